// region render / region diff as an SRE runs them: the built CLI, real files, real exit codes.
import { execa } from 'execa';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { civostack } from '../helpers/cli.js';
import { labText, REPO, tempDir, type LabManifest } from '../helpers/manifest.js';

interface DiffJson {
  changed: boolean;
  changes: { device: string; path: string; change: string; added: number; removed: number; patch: string }[];
}

/** A lab manifest in its own folder (so its state folder is private to the test). */
function workspace(edit?: (m: LabManifest) => void): {
  dir: string;
  manifest: string;
  write: (edit: (m: LabManifest) => void) => void;
} {
  const dir = tempDir('civostack-diff-');
  const manifest = join(dir, 'lab.yaml');
  const write = (e: (m: LabManifest) => void) => {
    const m = load(labText()) as LabManifest;
    edit?.(m);
    e(m);
    writeFileSync(manifest, dump(m, { lineWidth: 200 }));
  };
  write(() => undefined);
  return { dir, manifest, write };
}

async function diffJson(manifest: string, against: string): Promise<{ exitCode: number; out: DiffJson }> {
  const r = await civostack(['region', 'diff', manifest, '--against', against, '--output', 'json']);
  return { exitCode: r.exitCode, out: JSON.parse(r.stdout) as DiffJson };
}

describe('civostack region render', () => {
  it('writes the tree, replaces it as a whole, and refuses a folder it did not write', async () => {
    const ws = workspace();
    const out = join(ws.dir, 'out');
    const r = await civostack(['region', 'render', ws.manifest, '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(statSync(join(out, 'switches/br1/frr.conf')).mode & 0o777).toBe(0o600);
    expect(statSync(join(ws.dir, '.civostack/lab1/secrets/kubeadm/token')).mode & 0o777).toBe(0o600);
    const again = await civostack(['region', 'render', ws.manifest, '--out', out]);
    expect(again.exitCode).toBe(0);

    const foreign = join(ws.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'precious.txt'), 'keep me');
    const refused = await civostack(['region', 'render', ws.manifest, '--out', foreign]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/was not written by civostack/);
    expect(readFileSync(join(foreign, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it('gives byte-identical files on a second run with the same state', async () => {
    const ws = workspace();
    await civostack(['region', 'render', ws.manifest, '--out', join(ws.dir, 'a')]);
    await civostack(['region', 'render', ws.manifest, '--out', join(ws.dir, 'b')]);
    const d = await civostack(['region', 'diff', ws.manifest, '--against', join(ws.dir, 'a')]);
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toContain('No changes');
    expect(readFileSync(join(ws.dir, 'a/switches/br1/frr.conf'), 'utf8')).toBe(
      readFileSync(join(ws.dir, 'b/switches/br1/frr.conf'), 'utf8'),
    );
  });
});

describe('civostack region diff', () => {
  let ws: ReturnType<typeof workspace>;
  let baseline: string;
  beforeAll(async () => {
    ws = workspace();
    baseline = join(ws.dir, 'baseline');
    const r = await civostack(['region', 'render', ws.manifest, '--out', baseline]);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it("for a changed MAC shows the DHCP reservation and that node's boot files only", async () => {
    ws.write((m) => {
      m.racks[0].nodes[1].nics[0].mac = '52:54:00:aa:00:99';
    });
    const { exitCode, out } = await diffJson(ws.manifest, baseline);
    expect(exitCode).toBe(2);
    const files = out.changes.map((c) => `${c.change} ${c.path}`).sort();
    // The bond in the node's network-config matches its NICs by MAC, so it follows the new NIC.
    expect(files).toEqual([
      'added boot/ipxe/52-54-00-aa-00-99.ipxe',
      'modified boot/dnsmasq.conf',
      'modified nodes/r01-n02/cloud-init/network-config',
      'removed boot/ipxe/52-54-00-aa-00-02.ipxe',
    ]);
    const dns = out.changes.find((c) => c.path === 'boot/dnsmasq.conf')!;
    expect(dns.added).toBe(1);
    expect(dns.removed).toBe(1);
    expect(dns.patch).toMatch(
      /^\+dhcp-host=52:54:00:aa:00:99,52:54:00:bb:00:02,set:node,10\.100\.0\.11,r01-n02$/m,
    );
    expect(new Set(out.changes.map((c) => c.device))).toEqual(new Set(['boot', 'r01-n02']));
  });

  it('for an added node shows additions, plus only the ToR ports it lands on', async () => {
    ws.write((m) => {
      m.racks[0].nodes.push({
        name: 'r01-n04',
        role: 'worker',
        sku: 'lab-vm-bios',
        slot: 4,
        bmcMac: '52:54:00:0c:00:04',
        nics: [{ mac: '52:54:00:aa:00:04' }, { mac: '52:54:00:bb:00:04' }],
      });
    });
    const { exitCode, out } = await diffJson(ws.manifest, baseline);
    expect(exitCode).toBe(2);
    for (const c of out.changes) {
      if (c.change === 'added') {
        expect(c.device === 'r01-n04' || c.path.includes('-00-04.ipxe'), c.path).toBe(true);
        continue;
      }
      expect(c.change, c.path).toBe('modified');
      if (c.path === 'boot/dnsmasq.conf') {
        expect(c.removed, c.patch).toBe(0);
        continue;
      }
      // Every other node routes the new node's pod range through it: one added line, nothing removed.
      if (/^nodes\/r01-n0[123]\/kubeadm\/etc\/civostack\/pod-routes$/.test(c.path)) {
        expect([c.added, c.removed], c.patch).toEqual([1, 0]);
        expect(c.patch).toMatch(/\+10\.42\.\d+\.0\/24 via 10\.101\.0\.\d+ dev bond0\.20/);
        continue;
      }
      // Only the ToRs' config_db.json: the port comes up, gains a description, a port-channel and VLANs.
      expect(['switches/r01-tor1/config_db.json', 'switches/r01-tor2/config_db.json']).toContain(c.path);
      const removed = c.patch.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
      for (const l of removed)
        expect(l, c.path).toMatch(/"admin_status": "down"|"fec": "rs"$|^-\s+},?$|^-\s+"index": "3"$/);
      expect(c.patch).toContain('"Ethernet3"');
    }
    expect(
      out.changes
        .filter((c) => c.path.endsWith('config_db.json'))
        .map((c) => c.path)
        .sort(),
    ).toEqual(['switches/r01-tor1/config_db.json', 'switches/r01-tor2/config_db.json']);
    // Of the existing nodes, only the pod routes changed (checked above): none of their other files.
    const changedNodes = out.changes
      .filter((c) => c.path.startsWith('nodes/') && !c.path.endsWith('/etc/civostack/pod-routes'))
      .map((c) => c.path.split('/')[1]);
    expect(new Set(changedNodes)).toEqual(new Set(['r01-n04']));
    expect(out.changes.some((c) => c.path.endsWith('frr.conf'))).toBe(false);
  });

  it('never shows a secret, even one rotated since the baseline', async () => {
    const local = workspace();
    const secretsDir = join(local.dir, 'secrets');
    mkdirSync(secretsDir);
    writeFileSync(join(secretsDir, 'transit-a.password'), 'first-Secret-Value-123\n');
    chmodSync(join(secretsDir, 'transit-a.password'), 0o600);
    local.write((m) => {
      m.racks[0].switches[3].upstreams[0].passwordFile = 'secrets/transit-a.password';
    });
    const base = join(local.dir, 'base');
    expect((await civostack(['region', 'render', local.manifest, '--out', base])).exitCode).toBe(0);
    expect(readFileSync(join(base, 'switches/br1/frr.conf'), 'utf8')).toContain(
      'password first-Secret-Value-123',
    );

    writeFileSync(join(secretsDir, 'transit-a.password'), 'second-Secret-Value-456\n');
    const text = await civostack(['region', 'diff', local.manifest, '--against', base]);
    const json = await civostack(['region', 'diff', local.manifest, '--against', base, '--output', 'json']);
    expect(text.exitCode).toBe(2);
    for (const output of [text.stdout + text.stderr, json.stdout + json.stderr]) {
      expect(output).not.toContain('first-Secret-Value-123');
      expect(output).not.toContain('second-Secret-Value-456');
      expect(output).toContain('<redacted>');
    }
    expect(text.stdout).toMatch(/=== br1/);
  });

  it('prints plain text without a terminal and exits 1 on an invalid manifest', async () => {
    const r = await civostack(['region', 'diff', ws.manifest, '--against', baseline]);
    expect(r.stdout.includes(String.fromCharCode(27))).toBe(false);
    const bad = join(ws.dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: nope\n');
    expect((await civostack(['region', 'diff', bad, '--against', baseline])).exitCode).toBe(1);
  });
});

describe('civostack region diff colour', () => {
  const ESC = String.fromCharCode(27);
  const paint = (code: string, text: string) => `${ESC}[${code}m${text}${ESC}[0m`;
  const added = '+dhcp-host=52:54:00:aa:00:99,52:54:00:bb:00:02,set:node,10.100.0.11,r01-n02';
  const removed = '-dhcp-host=52:54:00:aa:00:02,52:54:00:bb:00:02,set:node,10.100.0.11,r01-n02';
  // Only what a login shell would have: no NO_COLOR or TERM=dumb leaking in from the test runner.
  const env = (extra: Record<string, string> = {}) => ({
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    TERM: 'xterm-256color',
    ...extra,
  });
  let args: string[];
  beforeAll(async () => {
    const ws = workspace();
    const baseline = join(ws.dir, 'baseline');
    expect((await civostack(['region', 'render', ws.manifest, '--out', baseline])).exitCode).toBe(0);
    ws.write((m) => {
      m.racks[0].nodes[1].nics[0].mac = '52:54:00:aa:00:99';
    });
    args = [join(REPO, 'bin/civostack'), 'region', 'diff', ws.manifest, '--against', baseline];
  });

  /** The built CLI with a terminal on stdout and stderr: util-linux `script` gives it a pty. */
  async function inTerminal(extra: Record<string, string> = {}) {
    const command = ['node', ...args].map((a) => `'${a}'`).join(' ');
    const r = await execa('script', ['-qec', command, '/dev/null'], {
      extendEnv: false,
      env: env(extra),
      reject: false,
    });
    return { exitCode: r.exitCode, lines: String(r.stdout).split(/\r?\n/) };
  }

  it('paints added lines green, removed red, hunks cyan and headers bold in a terminal', async () => {
    const { exitCode, lines } = await inTerminal();
    expect(exitCode).toBe(2);
    expect(lines).toContain(paint('32', added));
    expect(lines).toContain(paint('31', removed));
    expect(lines).toContain(paint('1', '=== boot (2 files)'));
    expect(lines).toContain(paint('1', '--- a/boot/dnsmasq.conf'));
    expect(
      lines.filter((l) => l.startsWith(`${ESC}[36m@@ `) && l.endsWith(`@@${ESC}[0m`)).length,
    ).toBeGreaterThan(0);
    // No change line is left unpainted.
    expect(lines.filter((l) => /^[+-]/.test(l))).toEqual([]);
  });

  it('stays plain with NO_COLOR in a terminal, and in a pipe, with the same text', async () => {
    const strip = (l: string) => l.replace(new RegExp(`${ESC}\\[\\d+m`, 'g'), '');
    const coloured = (await inTerminal()).lines.map(strip);
    const noColor = await inTerminal({ NO_COLOR: '1' });
    const piped = await execa('node', args, { extendEnv: false, env: env(), reject: false });
    expect(piped.exitCode).toBe(2);
    for (const text of [noColor.lines.join('\n'), String(piped.stdout)]) {
      expect(text.includes(ESC)).toBe(false);
      expect(text.split('\n')).toContain(added);
      expect(text.split('\n')).toContain(removed);
    }
    expect(noColor.lines).toEqual(coloured);
    expect(String(piped.stdout)).toBe(coloured.join('\n').trimEnd());
  });
});
