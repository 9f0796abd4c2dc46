// `civostack pxe serve` run as an operator runs it, inside a network namespace a test made, with a
// manifest whose OS profile needs no image build (small stand-in files beside it).
import { execa, type ResultPromise } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labWith, REPO } from './manifest.js';

/** The lab manifest with the custom OS profile: an installer and image that are just small files. */
export function customOsManifest(): string {
  const file = labWith((m) => {
    m.os = {
      profile: 'custom',
      image: { source: 'os.raw.gz', sha256: 'a'.repeat(64), rootPartition: 1 },
      installer: { kernel: 'vmlinuz', initrd: 'initrd.img' },
      sshAuthorizedKeys: [
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNpdm9zdGFjay10ZXN0LWtleS1ub3QtZm9yLXVzZQ sre@test',
      ],
    };
  });
  const dir = join(file, '..');
  for (const f of ['os.raw.gz', 'vmlinuz', 'initrd.img']) writeFileSync(join(dir, f), `${f}\n`);
  // Outside the lab profile nobody generates the BMC credentials the lab manifest names: an
  // operator keeps them beside the manifest, 0600.
  writeFileSync(join(dir, 'lab-bmc.credentials.yaml'), 'username: admin\npassword: test-only-password\n', {
    mode: 0o600,
  });
  return file;
}

const OPTIONS = { reject: false, env: { NO_COLOR: '1' }, all: true } as const;

export interface PxeServe {
  readonly proc: ResultPromise<typeof OPTIONS>;
  out(): string;
}

/** Starts `pxe serve` in `ns` and waits for its "boot server on" line. */
export async function pxeServe(
  ns: string,
  file: string,
  state: string,
  extra: string[] = [],
): Promise<PxeServe> {
  let out = '';
  const proc = execa(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'node',
      join(REPO, 'bin/civostack'),
      'pxe',
      'serve',
      file,
      '--state-dir',
      state,
      '--no-dns',
      ...extra,
    ],
    OPTIONS,
  );
  proc.all?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!out.includes('boot server on')) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGTERM');
      throw new Error(`pxe serve did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, out: () => out };
}

/** Stops it as Ctrl-C would and returns its exit code. */
export async function stopPxeServe(s: PxeServe): Promise<number> {
  s.proc.kill('SIGTERM');
  return (await s.proc).exitCode ?? -1;
}
