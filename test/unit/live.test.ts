// The live diff's pure parts: FRR's running configuration and a render in one canonical form (an
// unchanged device shows nothing), SONiC's config_db.json restricted to the tables civostack owns,
// what a push runs per platform, the lab's management links, and the manifest's switch SSH fields.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  canonicalConfigDb,
  configDbApply,
  deviceOwnedLines,
  liveChanges,
  normaliseFrr,
  type LiveDevice,
} from '../../src/diff/index.js';
import { fabricTopology } from '../../src/lab/fabric/index.js';
import { MGMT_HOST_ADDRESS, mgmtLinks, mgmtSteps } from '../../src/lab/fabric/mgmt.js';
import { parseHostKeys, pushSteps } from '../../src/live/index.js';
import { formatPath, loadRegion } from '../../src/manifest/index.js';
import { planRegion } from '../../src/plan/index.js';
import type { FileTree } from '../../src/render/index.js';
import { LAB, labText, loadText } from '../helpers/manifest.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'frr');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

/** What the live diff sees: the device's `show running-config` against its render. */
function tree(device: string, content: string): FileTree {
  return new Map([[`switches/${device}/frr.conf`, { content, mode: 0o600, device, secrets: [] }]]);
}
const live = (device: string, running: string): LiveDevice => ({ device, platform: 'frr', running });

describe('normaliseFrr', () => {
  // Both fixtures were read from the fabric lab's FRR 8.4.4 through its sshd, the border after a push.
  it('gives a ToR running its render (datacenter defaults) no difference', () => {
    const running = fixture('r01-tor1.running.conf');
    const rendered = fixture('r01-tor1.rendered.conf');
    expect(running).not.toBe(rendered);
    expect(liveChanges(tree('r01-tor1', rendered), [live('r01-tor1', running)], [])).toEqual([]);
  });

  it('gives a border router running its render (traditional defaults, a password) no difference', () => {
    const running = fixture('br1.running.conf');
    expect(
      liveChanges(tree('br1', fixture('br1.rendered.conf')), [live('br1', running)], ['TRANSIT-SECRET']),
    ).toEqual([]);
  });

  it('is deterministic and indifferent to the order FRR prints blocks and lines in', () => {
    const a =
      'router bgp 1\n bgp router-id 1.1.1.1\n neighbor X remote-as 2\n!\nip prefix-list P seq 10 permit 10.0.0.0/8\nip prefix-list P seq 5 permit 0.0.0.0/0\n';
    const b =
      'ip prefix-list P seq 5 permit 0.0.0.0/0\nip prefix-list P seq 10 permit 10.0.0.0/8\n!\nrouter bgp 1\n neighbor X remote-as 2\n bgp router-id 1.1.1.1\nexit\n!\nend\n';
    expect(normaliseFrr(a)).toBe(normaliseFrr(b));
    expect(normaliseFrr(a)).toBe(normaliseFrr(normaliseFrr(a)));
    // seq 5 before seq 10: digits compare as numbers.
    expect(normaliseFrr(a).indexOf('seq 5')).toBeLessThan(normaliseFrr(a).indexOf('seq 10'));
  });

  it('shows a changed route-map as exactly that change', () => {
    const rendered = fixture('r01-tor1.rendered.conf').replace(
      'route-map RM-FABRIC-OUT permit 10\n match ip address prefix-list PL-LOCAL\n',
      'route-map RM-FABRIC-OUT permit 10\n match ip address prefix-list PL-LOCAL\n set community 65100:1\n',
    );
    const changes = liveChanges(
      tree('r01-tor1', rendered),
      [live('r01-tor1', fixture('r01-tor1.running.conf'))],
      [],
    );
    expect(changes.map((c) => [c.device, c.added, c.removed])).toEqual([['r01-tor1', 1, 0]]);
    expect(changes[0]!.hunks.flatMap((h) => h.lines).filter((l) => /^[+-]/.test(l))).toEqual([
      '+ set community 65100:1',
    ]);
  });

  it('drops a datacenter default only under the datacenter profile', () => {
    const conf = (profile: string) => `frr defaults ${profile}\nrouter bgp 1\n timers bgp 3 9\n`;
    expect(normaliseFrr(conf('datacenter'))).not.toContain('timers bgp');
    expect(normaliseFrr(conf('traditional'))).toContain('timers bgp 3 9');
  });

  it('keeps device-owned lines out of the comparison and carries them into a push', () => {
    const running = fixture('br1.running.conf');
    expect(deviceOwnedLines(running)).toEqual(['no zebra nexthop kernel enable']);
    expect(normaliseFrr(running, { dropDeviceOwned: true })).not.toContain('zebra nexthop');
    const [upload] = pushSteps(live('br1', running), { frr: 'hostname br1\n!\n' });
    expect(upload).toMatchObject({ kind: 'upload', path: '/etc/frr/frr.conf.civostack', mode: 0o600 });
    expect(upload?.kind === 'upload' && upload.content).toBe(
      'hostname br1\n!\nno zebra nexthop kernel enable\n!\n',
    );
  });

  it('redacts transit passwords on both sides of the diff', () => {
    const running = fixture('br1.running.conf').replace('TRANSIT-SECRET', 'old-secret-value');
    const [change] = liveChanges(
      tree('br1', fixture('br1.rendered.conf').replace('TRANSIT-SECRET', 'new-secret-value')),
      [live('br1', running)],
      ['new-secret-value'],
    );
    const text = change!.hunks.flatMap((h) => h.lines).join('\n');
    expect(text).not.toMatch(/secret-value/);
  });
});

describe('pushing a render', () => {
  const sonic: LiveDevice = {
    device: 'r01-tor1',
    platform: 'sonic',
    running: 'hostname r01-tor1\n',
    configDb: JSON.stringify({ VLAN: { Vlan10: {}, Vlan30: {} }, FEATURE: { bgp: {} } }),
  };

  it('on plain FRR: stage frr.conf, frr-reload.py --reload it, then move it into place', () => {
    expect(
      pushSteps(live('br1', 'hostname br1\n'), { frr: 'x\n' }).map((s) =>
        s.kind === 'exec' ? s.argv.join(' ') : `upload ${s.path}`,
      ),
    ).toEqual([
      'upload /etc/frr/frr.conf.civostack',
      '/usr/lib/frr/frr-reload.py --reload --stdout /etc/frr/frr.conf.civostack',
      'mv -f /etc/frr/frr.conf.civostack /etc/frr/frr.conf',
    ]);
  });

  it('on SONiC: config_db.json first (reload when a key goes), then FRR in its bgp container', () => {
    const steps = pushSteps(sonic, { frr: 'x\n', configDb: JSON.stringify({ VLAN: { Vlan10: {} } }) });
    expect(steps.map((s) => (s.kind === 'exec' ? s.argv.join(' ') : `upload ${s.path}`))).toEqual([
      'upload /etc/sonic/config_db.json.civostack',
      'config reload -y /etc/sonic/config_db.json.civostack',
      'config save -y',
      'rm -f /etc/sonic/config_db.json.civostack',
      'upload /etc/sonic/frr/frr.conf.civostack',
      'docker exec bgp /usr/lib/frr/frr-reload.py --reload --stdout /etc/frr/frr.conf.civostack',
      'mv -f /etc/sonic/frr/frr.conf.civostack /etc/sonic/frr/frr.conf',
    ]);
  });

  it('loads a config_db.json that only adds, and reloads one that removes a key', () => {
    const now = JSON.stringify({ VLAN: { Vlan10: {} }, FEATURE: { bgp: {} } });
    expect(configDbApply(now, JSON.stringify({ VLAN: { Vlan10: {}, Vlan20: {} } }))).toBe('load');
    expect(configDbApply(now, JSON.stringify({ VLAN: { Vlan20: {} } }))).toBe('reload');
  });

  it('compares only the tables the render owns, with sorted keys', () => {
    const device = JSON.stringify({ FEATURE: { bgp: {} }, VLAN: { Vlan10: { vlanid: '10', a: '1' } } });
    const rendered = JSON.stringify({ VLAN: { Vlan10: { a: '1', vlanid: '10' } } });
    expect(canonicalConfigDb(device, new Set(['VLAN']))).toBe(canonicalConfigDb(rendered));
  });
});

describe('the fabric lab management links', () => {
  const loaded = loadRegion(LAB);
  if (!loaded.ok) throw new Error('lab.yaml does not load');
  const plan = planRegion(loaded.region, {}, { prune: false }).plan;
  const links = mgmtLinks(plan, fabricTopology(plan));

  it('gives every ToR and border router, not the simulators, a link at its planned management address', () => {
    expect(links.map((l) => [l.device, l.address])).toEqual(
      plan.switches.filter((s) => s.role !== 'mgmt').map((s) => [s.name, s.mgmt.address]),
    );
    expect(new Set(links.map((l) => l.hostIf)).size).toBe(links.length);
    for (const l of links) expect(l.hostIf.length).toBeLessThanOrEqual(15);
  });

  it('adds /32 routes only: no subnet route on this host, and the alias lab fabric down finds', () => {
    const steps = mgmtSteps(links).map((s) => s.argv.join(' '));
    const l = links[0]!;
    expect(steps).toContain(`ip link set dev ${l.hostIf} alias ${l.namespace}`);
    expect(steps).toContain(`ip route replace ${l.address}/32 dev ${l.hostIf} src ${MGMT_HOST_ADDRESS}`);
    expect(steps.filter((s) => s.startsWith('ip route') && !s.includes('/32'))).toEqual([]);
  });
});

describe('switch SSH in the manifest', () => {
  const lab = labText();
  const withSsh = (ssh: string) =>
    lab.replace(
      "mgmtMac: '52:54:00:0b:00:01'\n        ssh: { user: root }",
      `mgmtMac: '52:54:00:0b:00:01'\n        ssh: ${ssh}`,
    );

  it('plans the management address, port 22 and user admin by default', () => {
    const r = loadRegion(LAB);
    if (!r.ok) throw new Error('lab.yaml does not load');
    const plan = planRegion(r.region, {}, { prune: false }).plan;
    const mgmt = plan.switches.find((s) => s.name === 'r01-mgmt')!;
    expect(mgmt.ssh).toEqual({ address: mgmt.mgmt.address, port: 22, user: 'admin', hostKeyFile: undefined });
    expect(plan.switches.find((s) => s.name === 'br1')!.ssh.user).toBe('root');
  });

  it('reports a malformed address at its line', () => {
    const text = withSsh('{ address: 10.99.0.300 }');
    const r = loadText(text, 'lab.yaml');
    expect(r.ok).toBe(false);
    const d = r.diagnostics.find((x) => x.code === 'invalid-address')!;
    expect(d.position.line).toBe(text.split('\n').findIndex((l) => l.includes('10.99.0.300')) + 1);
    expect(formatPath(d.path)).toBe('racks[0].switches[3].ssh.address');
  });

  it('reports a host key file that does not exist, naming the field', () => {
    const r = loadText(withSsh('{ hostKeyFile: keys/br1.pub }'), 'lab.yaml');
    expect(r.ok).toBe(false);
    const d = r.diagnostics.find((x) => x.code === 'missing-file')!;
    expect(formatPath(d.path)).toBe('racks[0].switches[3].ssh.hostKeyFile');
  });

  it('refuses a user name that is not one', () => {
    const r = loadText(withSsh("{ user: 'root; reboot' }"), 'lab.yaml');
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => formatPath(d.path))).toContain('racks[0].switches[3].ssh.user');
  });

  it('reads only OpenSSH public key lines from a host key file', () => {
    expect(
      parseHostKeys('# pinned\n\nssh-ed25519 AAAAC3Nza br1\nnot a key\necdsa-sha2-nistp256 AAAAE2 x\n'),
    ).toEqual(['ssh-ed25519 AAAAC3Nza br1', 'ecdsa-sha2-nistp256 AAAAE2 x']);
  });
});
