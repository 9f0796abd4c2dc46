// Facts the rules share: lookups by name and the resolved cabling, computed leniently from a
// schema-valid manifest (a fact that cannot be resolved is left out; a rule reports why).
import type { Catalog, NodeSku, SwitchModel } from './catalog.js';
import type { Path } from './diagnostics.js';
import type { Manifest, ManifestNode, ManifestSwitch } from './schema.js';

export interface SwitchFact {
  readonly sw: ManifestSwitch;
  readonly path: Path;
  readonly rack: number;
  readonly model: SwitchModel | undefined;
}

export interface NodeFact {
  readonly node: ManifestNode;
  readonly path: Path;
  readonly rack: number;
  readonly sku: NodeSku | undefined;
}

/** One end of a cable on a switch port, and who is at the other end. */
export interface PortUse {
  readonly switch: string;
  readonly port: string;
  readonly what: string;
  readonly path: Path;
}

export interface NicCable {
  readonly node: string;
  readonly nic: number;
  readonly switch: string | undefined;
  readonly port: string | undefined;
  readonly path: Path;
}

export interface Facts {
  readonly switches: ReadonlyMap<string, SwitchFact>;
  readonly nodes: readonly NodeFact[];
  readonly torsByRack: readonly (readonly SwitchFact[])[];
  readonly nicCables: readonly NicCable[];
  /** The same cables grouped by node, in NIC order (a filter per node would be quadratic). */
  readonly cablesByNode: ReadonlyMap<string, readonly NicCable[]>;
  readonly portUses: readonly PortUse[];
}

export function gatherFacts(m: Manifest, catalog: Catalog): Facts {
  const switches = new Map<string, SwitchFact>();
  const nodes: NodeFact[] = [];
  const torsByRack: SwitchFact[][] = [];
  m.racks.forEach((rack, r) => {
    const tors: SwitchFact[] = [];
    rack.switches.forEach((sw, s) => {
      const fact = { sw, path: ['racks', r, 'switches', s], rack: r, model: catalog.switches.get(sw.model) };
      if (!switches.has(sw.name)) switches.set(sw.name, fact);
      if (sw.role === 'tor') tors.push(fact);
    });
    torsByRack.push(tors);
    rack.nodes.forEach((node, n) => {
      nodes.push({ node, path: ['racks', r, 'nodes', n], rack: r, sku: catalog.skus.get(node.sku) });
    });
  });

  const nicCables: NicCable[] = [];
  for (const { node, path, rack } of nodes) {
    const tors = torsByRack[rack] ?? [];
    node.nics.forEach((nic, i) => {
      const switchName = nic.switch ?? tors[i]?.sw.name;
      let port = nic.port;
      if (port === undefined && node.slot !== undefined && switchName !== undefined) {
        port = switches.get(switchName)?.model?.serverPorts[node.slot - 1];
      }
      nicCables.push({ node: node.name, nic: i, switch: switchName, port, path: [...path, 'nics', i] });
    });
  }

  const cablesByNode = new Map<string, NicCable[]>();
  for (const c of nicCables) {
    const list = cablesByNode.get(c.node);
    if (list) list.push(c);
    else cablesByNode.set(c.node, [c]);
  }

  const portUses: PortUse[] = [];
  for (const c of nicCables) {
    if (c.switch !== undefined && c.port !== undefined) {
      portUses.push({ switch: c.switch, port: c.port, what: `${c.node}'s nic${c.nic}`, path: c.path });
    }
  }
  m.racks.forEach((rack, r) => {
    rack.uplinks.forEach((u, i) => {
      const path = ['racks', r, 'uplinks', i];
      portUses.push({
        switch: u.switch,
        port: u.port,
        what: `the uplink to ${u.border}`,
        path: [...path, 'port'],
      });
      portUses.push({
        switch: u.border,
        port: u.borderPort,
        what: `the downlink to ${u.switch}`,
        path: [...path, 'borderPort'],
      });
    });
    rack.switches.forEach((sw, s) => {
      sw.upstreams?.forEach((up, i) => {
        const path = ['racks', r, 'switches', s, 'upstreams', i, 'port'];
        portUses.push({ switch: sw.name, port: up.port, what: `transit session ${up.name}`, path });
      });
    });
  });
  return { switches, nodes, torsByRack, nicCables, cablesByNode, portUses };
}
