// The fabric lab's pure parts: its shape from the lab plan, the transit simulator's announcements,
// and how the drill judges one observation.
import { describe, expect, it } from 'vitest';
import { assess, failures } from '../../src/lab/fabric/drill.js';
import { fabricCreateSteps, fabricTopology, accepted, announcements } from '../../src/lab/fabric/index.js';
import { reachKey, type Observation } from '../../src/lab/fabric/observe.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion } from '../../src/plan/index.js';
import { LAB } from '../helpers/manifest.js';

const loaded = loadRegion(LAB);
if (!loaded.ok) throw new Error('lab.yaml does not load');
const plan = planRegion(loaded.region, {}, { prune: false }).plan;
const t = fabricTopology(plan);

/** A healthy lab: every ping answers, ToRs default via both borders, borders via their transit. */
function healthy(): {
  reach: Map<string, boolean>;
  defaults: Map<string, string[]>;
  sessions: Map<string, Map<string, string>>;
} {
  const reach = new Map<string, boolean>();
  for (const b of ['br1', 'br2'])
    for (const a of ['10.255.0.1', '10.255.0.2', '10.100.0.1', '10.101.0.1']) reach.set(reachKey(b, a), true);
  return {
    reach,
    sessions: new Map(),
    defaults: new Map([
      ['r01-tor1', ['10.255.255.2', '10.255.255.4']],
      ['r01-tor2', ['10.255.255.6', '10.255.255.8']],
      ['br1', ['172.30.0.0']],
      ['br2', ['172.30.0.2']],
    ]),
  };
}

describe('fabricTopology', () => {
  it('gives every ToR, border router and transit session a namespace with the prefix and region in its name', () => {
    expect(t.devices.map((d) => d.namespace)).toEqual([
      'cvfb-lab1-r01-tor1',
      'cvfb-lab1-r01-tor2',
      'cvfb-lab1-br1',
      'cvfb-lab1-br2',
      'cvfb-lab1-transit-br1-transit-a',
      'cvfb-lab1-transit-br2-transit-b',
    ]);
  });

  it('cables every uplink, peer-link cable and transit link of the plan, with the SONiC port names FRR uses', () => {
    expect(t.links.map((l) => `${l.kind} ${l.id}`)).toEqual([
      'peer-link r01-tor1:Ethernet72—r01-tor2:Ethernet72',
      'peer-link r01-tor1:Ethernet76—r01-tor2:Ethernet76',
      'uplink r01-tor1:Ethernet48—br1:Ethernet64',
      'uplink r01-tor1:Ethernet52—br2:Ethernet64',
      'uplink r01-tor2:Ethernet48—br1:Ethernet68',
      'uplink r01-tor2:Ethernet52—br2:Ethernet68',
      'transit br1:Ethernet0—transit-br1-transit-a',
      'transit br2:Ethernet0—transit-br2-transit-b',
    ]);
    const tor1 = t.devices.find((d) => d.name === 'r01-tor1')!;
    expect(tor1.ports).toContainEqual({ name: 'Ethernet48', address: '10.255.255.3/31' });
    // No 802.1Q: the MCLAG keepalive address rides the first peer-link cable.
    expect(tor1.ports).toContainEqual({ name: 'Ethernet72', address: '10.255.255.0/31' });
    expect(tor1.dummies).toEqual([
      { name: 'Loopback0', addresses: ['10.255.0.1/32'] },
      { name: 'Vlan10', addresses: ['10.100.0.1/24'] },
      { name: 'Vlan20', addresses: ['10.101.0.1/24'] },
    ]);
  });

  it('creates each veth pair straight into its two namespaces, never in the host namespace', () => {
    const veths = fabricCreateSteps(t).filter(
      (s) => s.argv.includes('veth') && s.argv[1] === 'link' && s.argv[2] === 'add',
    );
    expect(veths.find((s) => s.argv.includes('Ethernet48'))?.argv.join(' ')).toBe(
      'ip link add Ethernet48 netns cvfb-lab1-r01-tor1 type veth peer name Ethernet64 netns cvfb-lab1-br1',
    );
  });

  it('plans a simulator that announces the default, the internet and everything the border must drop', () => {
    const all = announcements(plan);
    expect(new Set(all.map((a) => a.kind))).toEqual(
      new Set(['default', 'internet', 'bogon', 'over-specific', 'own', 'internal']),
    );
    expect(all).toContainEqual({ prefix: '172.31.0.0/25', kind: 'own' });
    expect(accepted(t.transits[0]!, all)).toEqual(['0.0.0.0/0']);
    expect(accepted({ ...t.transits[0]!, acceptFullTable: true }, all)).toEqual([
      '0.0.0.0/0',
      '1.1.1.0/24',
      '8.8.8.0/24',
      '9.9.9.0/24',
    ]);
  });
});

describe('the drill', () => {
  it('rehearses every cable, then every ToR and border router', () => {
    expect(
      failures(t)
        .map((f) => f.id)
        .slice(-4),
    ).toEqual(['device r01-tor1', 'device r01-tor2', 'device br1', 'device br2']);
    expect(failures(t)).toHaveLength(12);
  });

  it('calls a ToR that no border router reaches a cut-off rack, and one border losing it only degraded', () => {
    const o = healthy();
    o.reach.set(reachKey('br1', '10.255.0.1'), false);
    expect(assess(t, o as Observation, new Set())).toEqual({
      cutOff: [],
      degraded: ['r01-tor1 loopback unreachable from br1'],
    });
    o.reach.set(reachKey('br2', '10.255.0.1'), false);
    expect(assess(t, o as Observation, new Set()).cutOff).toEqual([
      "rack r01: r01-tor1 is unreachable from every border router (its nodes' links to it stay up)",
    ]);
  });

  it('calls a default route through a border router without a transit default a cut-off', () => {
    const o = healthy();
    o.defaults.set('br1', []);
    expect(assess(t, o as Observation, new Set()).cutOff).toEqual([
      "rack r01: r01-tor1's default route goes to br1, which has no transit default",
      "rack r01: r01-tor2's default route goes to br1, which has no transit default",
    ]);
  });

  it('does not expect a failed device to answer', () => {
    const o = healthy();
    for (const a of ['10.255.0.1', '10.255.0.2', '10.100.0.1', '10.101.0.1'])
      o.reach.delete(reachKey('br1', a));
    o.defaults.set('r01-tor1', ['10.255.255.4']);
    o.defaults.set('r01-tor2', ['10.255.255.8']);
    expect(assess(t, o as Observation, new Set(['br1']))).toEqual({ cutOff: [], degraded: [] });
  });
});
