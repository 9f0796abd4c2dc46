// Every rendered file is checked by the real program that will consume it.
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigDb, type ConfigDb } from '../../src/render/index.js';
import { LAB, NYC1, REPO, tempDir } from '../helpers/manifest.js';
import { compareGolden, describeGolden, updateGolden } from '../helpers/golden.js';
import { renderFile } from '../helpers/render.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';

function writeOut(tree: ReturnType<typeof renderFile>['tree']): string {
  const dir = tempDir('civostack-render-');
  for (const [path, f] of tree) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), f.content);
  }
  return dir;
}

describe.each([
  ['lab', LAB],
  ['nyc1', NYC1],
])('render %s', (name, manifest) => {
  const { tree, plan } = renderFile(manifest);
  const dir = writeOut(tree);

  it('is byte-identical on every run', () => {
    const again = renderFile(manifest).tree;
    expect([...again.keys()]).toEqual([...tree.keys()]);
    for (const [path, f] of tree) expect(again.get(path)?.content, path).toBe(f.content);
  });

  it('matches the golden files (UPDATE_GOLDEN=1 npx vitest run test/integration/render.test.ts to update)', () => {
    const golden = join(REPO, 'test/golden', name);
    const expected = new Map([...tree].map(([path, f]) => [path, f.content]));
    if (UPDATE) {
      const changed = updateGolden(golden, expected);
      // The update is reviewed in git's diff; this says where to look.
      console.warn(
        changed.length === 0
          ? `golden ${name}: no file changed`
          : `golden ${name}: ${changed.length} file(s) rewritten or removed:\n${describeGolden(changed)}`,
      );
    }
    const differences = compareGolden(golden, expected);
    expect(differences, describeGolden(differences)).toEqual([]);
  });

  it('every frr.conf passes vtysh -C', async () => {
    const confs = [...tree.keys()].filter((p) => p.endsWith('frr.conf'));
    expect(confs.length).toBe(plan.switches.filter((s) => s.role !== 'mgmt').length);
    for (const path of confs) {
      const r = await execa('vtysh', ['-C', '-f', join(dir, path)], { reject: false });
      expect(r.exitCode, `${path}: ${String(r.stdout)}${String(r.stderr)}`).toBe(0);
    }
  });

  it('never gives two entries of one prefix-list the same sequence number (vtysh -C does not check)', () => {
    for (const [path, f] of tree) {
      if (!path.endsWith('frr.conf')) continue;
      const seen = new Set<string>();
      for (const m of f.content.matchAll(/^ip prefix-list (\S+) seq (\d+) /gm)) {
        const key = `${m[1]} ${m[2]}`;
        expect(seen.has(key), `${path}: ${key}`).toBe(false);
        seen.add(key);
      }
    }
  });

  it('dnsmasq.conf passes dnsmasq --test', async () => {
    const r = await execa('/usr/sbin/dnsmasq', ['--test', '-C', join(dir, 'boot/dnsmasq.conf')], {
      reject: false,
    });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toContain('syntax check OK');
  });

  it('cloud-init seeds pass cloud-init schema and render to a bonded network with net-convert', async () => {
    // The same code renders every node: check the first control-plane node, a worker and the last node.
    const sample = [
      plan.nodes.find((n) => n.role === 'control-plane')!,
      plan.nodes.find((n) => n.role === 'worker')!,
      plan.nodes.at(-1)!,
    ];
    for (const node of sample) {
      const base = join(dir, 'nodes', node.name, 'cloud-init');
      const schema = await execa('cloud-init', ['schema', '-c', join(base, 'user-data')], { reject: false });
      expect(schema.exitCode, `${node.name}: ${String(schema.stdout)}${String(schema.stderr)}`).toBe(0);
      const out = tempDir('civostack-netconv-');
      const conv = await execa(
        'cloud-init',
        [
          'devel',
          'net-convert',
          '-p',
          join(base, 'network-config'),
          '-k',
          'yaml',
          '-D',
          'debian',
          '-O',
          'eni',
          '-d',
          out,
        ],
        { reject: false },
      );
      expect(conv.exitCode, String(conv.stderr)).toBe(0);
      const eni = readFileSync(join(out, 'etc/network/interfaces.d/50-cloud-init'), 'utf8');
      expect(eni).toContain('bond-mode 802.3ad');
      expect(eni).toMatch(new RegExp(`iface ${node.node.interface.replace('.', '\\.')} inet static`));
      expect(eni).toContain(`address ${node.node.address}/${node.node.prefix}`);
      expect(eni).toContain(`${node.node.gateway}`);
    }
  });

  it("every config_db.json parses and obeys SONiC's rules", () => {
    for (const [path, f] of tree) {
      if (!path.endsWith('config_db.json')) continue;
      const db = JSON.parse(f.content) as ConfigDb;
      expect(checkConfigDb(db), path).toEqual([]);
      // Spot checks that do not go through the checker.
      for (const [vlan, fields] of Object.entries(db['VLAN'] ?? {}))
        expect(vlan).toBe(`Vlan${String(fields['vlanid'])}`);
      expect(db['DEVICE_METADATA']?.['localhost']?.['hostname']).toBe(path.split('/')[1]);
    }
  });

  it('writes files that carry secrets with mode 0600, and only those', () => {
    for (const [path, f] of tree) {
      const carries = f.content.includes('secret-of-');
      expect(f.mode, path).toBe(carries ? 0o600 : 0o644);
    }
  });
});

describe('render specifics', () => {
  const { tree, plan } = renderFile(NYC1);

  it('puts LACP fallback on the first ToR only and MCLAG on both', () => {
    const a = JSON.parse(tree.get('switches/r01-tor1/config_db.json')!.content) as ConfigDb;
    const b = JSON.parse(tree.get('switches/r01-tor2/config_db.json')!.content) as ConfigDb;
    expect(a['PORTCHANNEL']?.['PortChannel1']?.['fallback']).toBe('true');
    expect(b['PORTCHANNEL']?.['PortChannel1']?.['fallback']).toBe('false');
    expect(a['MCLAG_DOMAIN']?.['1']?.['peer_ip']).toBe(b['MCLAG_DOMAIN']?.['1']?.['source_ip']);
    expect(Object.keys(a['MCLAG_INTERFACE'] ?? {})).toHaveLength(40);
  });

  it('border routers announce only the public aggregates to transit and strip private ASNs', () => {
    const frr = tree.get('switches/br1/frr.conf')!.content;
    for (const p of plan.networks.public)
      expect(frr).toMatch(
        new RegExp(`^ip prefix-list PL-AGGREGATES seq \\d+ permit ${p.replaceAll('.', '\\.')}$`, 'm'),
      );
    expect(frr.match(/^ip prefix-list PL-AGGREGATES /gm)).toHaveLength(plan.networks.public.length);
    expect(frr).toMatch(/neighbor 198\.51\.100\.0 remove-private-AS all/);
    expect(frr).toMatch(/neighbor 198\.51\.100\.0 maximum-prefix 10 /);
    expect(frr).toMatch(/neighbor 198\.51\.100\.0 route-map RM-TRANSIT-OUT out/);
    expect(frr).toMatch(/neighbor 198\.51\.100\.0 password secret-of-bgp-br1-transit-a1/);
  });

  it('the iPXE script tries each NIC, retries, and boots the disk with sanboot', () => {
    const node = plan.nodes[0]!;
    const script = tree.get(`boot/ipxe/${node.nics[0]!.mac.replaceAll(':', '-')}.ipxe`)!.content;
    expect(script.startsWith('#!ipxe\n')).toBe(true);
    // The NIC the script came through keeps its lease; any other NIC gets DHCP of its own.
    expect(script).toContain('iseq ${netX/mac} ${net0/mac} && isset ${net0/ip} && goto up0 ||');
    expect(script).toContain('dhcp net0 || goto nic1');
    expect(script).toContain('dhcp net1 || goto nic2');
    expect(script).toContain('sanboot --no-describe --drive 0x80');
    expect(script).not.toMatch(/^exit$/m);
    expect(tree.get(`boot/ipxe/${node.nics[1]!.mac.replaceAll(':', '-')}.ipxe`)!.content).toBe(script);
  });

  it('K3s: one cluster-init server, tokens by file, the VIP in tls-san', () => {
    const configs = plan.nodes.map((n) => tree.get(`nodes/${n.name}/k3s/config.yaml`)!.content);
    expect(configs.filter((c) => c.includes('cluster-init: true'))).toHaveLength(1);
    for (const c of configs) {
      expect(c).toMatch(/token-file: \/etc\/rancher\/k3s\//);
      expect(c).not.toMatch(/^token:/m);
    }
    expect(configs[0]).toContain(`- ${plan.kubernetes.apiVip}`);
  });

  it("ships the iPXE binaries from Debian's ipxe package in pxe/ after set-up", () => {
    if (!existsSync(join(REPO, 'pxe/undionly.kpxe')))
      throw new Error('pxe/undionly.kpxe missing: run bash .ci/setup');
    expect(readFileSync(join(REPO, 'pxe/undionly.kpxe')).length).toBeGreaterThan(10_000);
    expect(readFileSync(join(REPO, 'pxe/ipxe.efi')).length).toBeGreaterThan(10_000);
  });
});
