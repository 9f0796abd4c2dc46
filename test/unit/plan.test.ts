import { describe, expect, it } from 'vitest';
import { loadRegion, type Region } from '../../src/manifest/index.js';
import {
  BOGONS,
  planRegion,
  type AllocationTable,
  type Plan,
  type SwitchPlan,
} from '../../src/plan/index.js';
import { createEngine } from '../../src/render/engine.js';
import { renderFrr } from '../../src/render/frr.js';
import { secretValues } from '../../src/render/index.js';
import { loadTemplates } from '../../src/templates.js';
import { labWith, LAB, NYC1, type LabManifest } from '../helpers/manifest.js';

function region(file: string): Region {
  const result = loadRegion(file);
  if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  return result.region;
}

function plan(file: string, prior: AllocationTable = {}, prune = false) {
  return planRegion(region(file), prior, { prune });
}

function addressesOf(p: Plan): Record<string, unknown> {
  return {
    nodes: Object.fromEntries(
      p.nodes.map((n) => [n.name, [n.node.address, n.provisioning.address, n.bmc?.address, n.portChannel]]),
    ),
    switches: Object.fromEntries(
      p.switches.map((s) => [
        s.name,
        [s.mgmt.address, s.loopback, s.asn, s.interfaces.map((i) => i.address)],
      ]),
    ),
    links: p.links.filter((l) => l.kind === 'uplink').map((l) => l.subnet),
  };
}

function addNode(m: LabManifest, name: string, slot: number, mac: number): void {
  const hex = mac.toString(16).padStart(2, '0');
  m.racks[0].nodes.push({
    name,
    role: 'worker',
    sku: 'lab-vm-bios',
    slot,
    bmcMac: `52:54:00:0c:00:${hex}`,
    nics: [{ mac: `52:54:00:aa:00:${hex}` }, { mac: `52:54:00:bb:00:${hex}` }],
  });
}

describe('plan', () => {
  it('gives byte-identical output for the same manifest', () => {
    const a = plan(NYC1);
    const b = plan(NYC1);
    expect(JSON.stringify(a.plan)).toBe(JSON.stringify(b.plan));
    expect(JSON.stringify(a.allocations)).toBe(JSON.stringify(b.allocations));
  });

  it('gives the same plan when re-planned from its own recorded allocations', () => {
    const first = plan(NYC1);
    const again = plan(NYC1, first.allocations);
    expect(JSON.stringify(again.plan)).toBe(JSON.stringify(first.plan));
    expect(again.orphans).toEqual([]);
  });

  it('keeps every existing address when a node is added before the others in the manifest', () => {
    const before = plan(LAB);
    // The new node goes first in the list and takes slot 4: manifest order must not matter.
    const file = labWith((m) => {
      addNode(m, 'r01-n04', 4, 4);
      m.racks[0].nodes.unshift(m.racks[0].nodes.pop());
    });
    const after = plan(file, before.allocations);
    const was = addressesOf(before.plan) as {
      nodes: Record<string, unknown>;
      switches: unknown;
      links: unknown;
    };
    const now = addressesOf(after.plan) as typeof was;
    for (const [name, addrs] of Object.entries(was.nodes)) expect(now.nodes[name]).toEqual(addrs);
    expect(now.switches).toEqual(was.switches);
    expect(now.links).toEqual(was.links);
    const added = after.plan.nodes.find((n) => n.name === 'r01-n04')!;
    const taken = before.plan.nodes.map((n) => n.node.address);
    expect(taken).not.toContain(added.node.address);
  });

  it('without recorded allocations, the same addition renumbers (which is why they are recorded)', () => {
    const before = plan(LAB);
    const file = labWith((m) => {
      addNode(m, 'r01-n04', 4, 4);
      m.racks[0].nodes.unshift(m.racks[0].nodes.pop());
    });
    const after = plan(file, {});
    const n01 = (p: Plan) => p.nodes.find((n) => n.name === 'r01-n01')!.node.address;
    expect(n01(after.plan)).not.toBe(n01(before.plan));
  });

  it("keeps a removed node's addresses reserved until pruned", () => {
    const before = plan(LAB);
    const gone = before.plan.nodes.find((n) => n.name === 'r01-n02')!;
    const without = labWith((m) => {
      m.racks[0].nodes.splice(1, 1);
    });
    const kept = plan(without, before.allocations);
    expect(kept.orphans.map((o) => `${o.pool}/${o.key}`)).toContain('host.node.r01/r01-n02');
    // A node added afterwards must not reuse the removed node's address while it is kept.
    const readded = labWith((m) => {
      m.racks[0].nodes.splice(1, 1);
      addNode(m, 'r01-n09', 9, 9);
    });
    const next = plan(readded, kept.allocations);
    expect(next.plan.nodes.find((n) => n.name === 'r01-n09')!.node.address).not.toBe(gone.node.address);

    const pruned = plan(without, before.allocations, true);
    expect(pruned.orphans).toEqual([]);
    expect(JSON.stringify(pruned.allocations)).not.toContain('r01-n02');
    const reuse = plan(readded, pruned.allocations);
    expect(reuse.plan.nodes.find((n) => n.name === 'r01-n09')!.node.address).toBe(gone.node.address);
  });

  it("does not change a node's addresses when only its MAC changes", () => {
    const before = plan(LAB);
    const file = labWith((m) => {
      m.racks[0].nodes[1].nics[0].mac = '52:54:00:aa:00:99';
    });
    const after = plan(file, before.allocations);
    expect(addressesOf(after.plan)).toEqual(addressesOf(before.plan));
    const reservation = after.plan.dhcp.find((d) => d.host === 'r01-n02')!;
    expect(reservation.macs).toContain('52:54:00:aa:00:99');
  });

  it("moves a renamed node's addresses, PortChannel, BMC address and init-server role to its new name", () => {
    const before = plan(LAB);
    const renamed = labWith((m) => {
      m.racks[0].nodes[0].renamedFrom = 'r01-n01';
      m.racks[0].nodes[0].name = 'r01-cp1';
      m.racks[0].nodes[1].renamedFrom = 'r01-n02';
      m.racks[0].nodes[1].name = 'r01-w1';
    });
    const after = plan(renamed, before.allocations);
    const ids = (p: Plan) => Object.values(addressesOf(p).nodes as Record<string, unknown>);
    expect(ids(after.plan)).toEqual(ids(before.plan));
    expect(addressesOf(after.plan).switches).toEqual(addressesOf(before.plan).switches);
    expect(after.plan.kubernetes.initServer).toBe('r01-cp1');
    expect(after.orphans).toEqual([]);
    const recorded = JSON.stringify(after.allocations);
    expect(recorded).not.toMatch(/"r01-n0[12](-bmc)?"/);
    expect(recorded).toContain('"r01-cp1-bmc"');
    // Planned again from what it recorded, with renamedFrom still in the manifest: nothing moves.
    expect(plan(renamed, after.allocations).allocations).toEqual(after.allocations);
  });

  it('without renamedFrom, a renamed node is a new node and its old addresses stay reserved', () => {
    const before = plan(LAB);
    const renamed = labWith((m) => {
      m.racks[0].nodes[1].name = 'r01-w1';
    });
    const after = plan(renamed, before.allocations);
    const w1 = after.plan.nodes.find((n) => n.name === 'r01-w1')!;
    expect(w1.node.address).not.toBe(before.plan.nodes[1]!.node.address);
    expect(after.orphans.map((o) => o.key)).toContain('r01-n02');
  });

  it('keeps the K3s init server once recorded, even if another control-plane node is listed first', () => {
    const three = labWith((m) => {
      m.racks[0].nodes[1].role = 'control-plane';
      m.racks[0].nodes[2].role = 'control-plane';
    });
    const first = plan(three);
    expect(first.plan.kubernetes.initServer).toBe('r01-n01');
    const reordered = labWith((m) => {
      m.racks[0].nodes[1].role = 'control-plane';
      m.racks[0].nodes[2].role = 'control-plane';
      m.racks[0].nodes.reverse();
    });
    const again = plan(reordered, first.allocations);
    expect(again.plan.kubernetes.initServer).toBe('r01-n01');
    expect(again.plan.nodes.filter((n) => n.k3s.clusterInit).map((n) => n.name)).toEqual(['r01-n01']);
  });

  it("pins the bootstrap host's rack subnet and never hands out the bootstrap address or the VIP", () => {
    const { plan: p } = plan(NYC1);
    const rack = p.racks[0]!;
    expect(rack.provisioning.cidr).toBe('10.1.0.0/24');
    const used = p.nodes.flatMap((n) => [n.provisioning.address, n.node.address]);
    expect(used).not.toContain(p.bootstrap.address);
    expect(used).not.toContain(p.kubernetes.apiVip);
  });

  it('bonds each node over both ToRs with the same PortChannel on each, fallback on the first only', () => {
    const { plan: p } = plan(NYC1);
    const [torA, torB] = p.switches.filter((s) => s.role === 'tor');
    for (const node of p.nodes) {
      expect(node.nics.map((n) => n.switch).sort()).toEqual(['r01-tor1', 'r01-tor2']);
      const pcA = torA!.portChannels.find((pc) => pc.name === `PortChannel${node.portChannel}`)!;
      const pcB = torB!.portChannels.find((pc) => pc.name === `PortChannel${node.portChannel}`)!;
      expect(pcA.fallback).toBe(true);
      expect(pcB.fallback).toBe(false);
    }
    expect(torA!.mclag!.peerIp).toBe(torB!.mclag!.sourceIp);
    expect(torB!.mclag!.peerIp).toBe(torA!.mclag!.sourceIp);
  });

  it('gives each fabric link a /31 whose two ends are the two BGP neighbours', () => {
    const { plan: p } = plan(NYC1);
    const byName = new Map(p.switches.map((s) => [s.name, s]));
    const uplinks = p.links.filter((l) => l.kind === 'uplink');
    expect(uplinks).toHaveLength(4);
    const subnets = new Set(uplinks.map((l) => l.subnet));
    expect(subnets.size).toBe(4);
    for (const l of uplinks) {
      const tor = byName.get(l.a.device)!;
      const border = byName.get(l.b.device)!;
      const torSide = tor.interfaces.find((i) => i.port === l.a.port)!;
      const borderSide = border.interfaces.find((i) => i.port === l.b.port)!;
      expect(
        tor.bgp.neighbors.some((n) => `${n.address}/31` === borderSide.address && n.asn === border.asn),
      ).toBe(true);
      expect(
        border.bgp.neighbors.some((n) => `${n.address}/31` === torSide.address && n.asn === tor.asn),
      ).toBe(true);
    }
  });

  it("reserves every node's MACs on the provisioning network and every BMC and switch on OOB", () => {
    const { plan: p } = plan(NYC1);
    const prov = p.dhcp.filter((d) => d.network === 'provisioning');
    expect(prov).toHaveLength(40);
    expect(prov.every((d) => d.macs.length === 2)).toBe(true);
    const oob = p.dhcp.filter((d) => d.network === 'oob');
    expect(oob.filter((d) => d.kind === 'bmc')).toHaveLength(40);
    expect(oob.filter((d) => d.kind === 'switch' && d.ztp)).toHaveLength(5);
    const addresses = p.dhcp.map((d) => d.address);
    expect(new Set(addresses).size).toBe(addresses.length);
  });

  it("plans each switch's BGP policy: ToRs take the default and internal ranges, borders filter transit", () => {
    const { plan: p } = plan(NYC1);
    const internal = [p.networks.loopback, p.networks.node, p.networks.provisioning];
    const tor = p.switches.find((s) => s.role === 'tor')!;
    expect(tor.bgp.policy).toEqual({
      fabricImport: { defaultRoute: true, within: internal },
      fabricExport: { defaultRoute: false, exact: tor.bgp.networks },
      transit: undefined,
    });
    const br1 = p.switches.find((s) => s.name === 'br1')!;
    expect(br1.bgp.policy).toEqual({
      fabricImport: { defaultRoute: false, within: internal },
      fabricExport: { defaultRoute: true, exact: [] },
      transit: {
        export: ['192.0.2.0/24', '198.18.0.0/23'],
        rejectBogons: [...BOGONS],
        rejectOwn: ['192.0.2.0/24', '198.18.0.0/23'],
        maxPrefixLength: 24,
        acceptDefault: true,
        upstreamAsns: [64496, 64497],
      },
    });
    expect(p.switches.find((s) => s.role === 'mgmt')!.bgp.policy).toBeUndefined();
  });

  it("lays out each FRR config from the switch's planned policy, not from its own copy", () => {
    const { plan: p } = plan(NYC1);
    const engine = createEngine(loadTemplates());
    const secrets = secretValues(new Map(p.secrets.map((s) => [s.name, 'test-password'])));
    const br1 = p.switches.find((s) => s.name === 'br1')!;
    const t = br1.bgp.policy!.transit!;
    const changed: SwitchPlan = {
      ...br1,
      bgp: {
        ...br1.bgp,
        policy: {
          ...br1.bgp.policy!,
          fabricImport: { defaultRoute: false, within: ['10.99.0.0/16'] },
          transit: {
            ...t,
            export: ['192.0.2.0/25'],
            rejectOwn: ['192.0.2.0/24'],
            maxPrefixLength: 22,
            upstreamAsns: [64496],
          },
        },
      },
    };
    const border = renderFrr(engine, p, changed, secrets).content;
    expect(border).toContain('ip prefix-list PL-AGGREGATES seq 5 permit 192.0.2.0/25\n');
    expect(border).not.toContain('PL-AGGREGATES seq 10');
    expect(border).toContain('ip prefix-list PL-OWN seq 5 permit 192.0.2.0/24 le 32\n');
    expect(border).not.toContain('PL-OWN seq 10');
    expect(border).toContain('ip prefix-list PL-TOO-SPECIFIC seq 5 permit 0.0.0.0/0 ge 23\n');
    expect(border).toContain('ip prefix-list PL-INTERNAL seq 5 permit 10.99.0.0/16 le 32\n');
    expect(border).not.toContain('PL-INTERNAL seq 10');
    expect(border).toContain('AS-UPSTREAM seq 5 permit ^64496_\n');
    expect(border).not.toContain('^64497_');

    const tor = p.switches.find((s) => s.role === 'tor')!;
    const noDefault: SwitchPlan = {
      ...tor,
      bgp: {
        ...tor.bgp,
        policy: { ...tor.bgp.policy!, fabricImport: { defaultRoute: false, within: ['10.99.0.0/16'] } },
      },
    };
    const torConf = renderFrr(engine, p, noDefault, secrets).content;
    expect(torConf).not.toContain('PL-FABRIC-IN seq 5 permit 0.0.0.0/0');
    expect(torConf).toContain('ip prefix-list PL-FABRIC-IN seq 10 permit 10.99.0.0/16 le 32\n');
    expect(renderFrr(engine, p, tor, secrets).content).toContain('PL-FABRIC-IN seq 5 permit 0.0.0.0/0\n');
  });
});
