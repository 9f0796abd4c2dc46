// Topology: known hardware, ToR and border pairs, every node cabled to both ToRs on real ports.
import type { SwitchModel } from '../catalog.js';
import type { Path } from '../diagnostics.js';
import { closest, knownList, type Rule, type RuleContext } from './context.js';

export const knownHardware: Rule = (ctx) => {
  for (const { sw, path } of ctx.facts.switches.values()) {
    if (!ctx.catalog.switches.has(sw.model)) {
      const near = closest(sw.model, ctx.catalog.switches.keys());
      ctx.error(
        [...path, 'model'],
        'unknown-switch-model',
        `unknown switch model "${sw.model}"`,
        near ? `did you mean ${near}?` : `known models: ${knownList(ctx.catalog.switches.keys())}`,
      );
    }
  }
  for (const { node, path } of ctx.facts.nodes) {
    if (!ctx.catalog.skus.has(node.sku)) {
      const near = closest(node.sku, ctx.catalog.skus.keys());
      ctx.error(
        [...path, 'sku'],
        'unknown-node-sku',
        `unknown node SKU "${node.sku}"`,
        near ? `did you mean ${near}?` : `known SKUs: ${knownList(ctx.catalog.skus.keys())}`,
      );
    }
  }
};

export const pairs: Rule = (ctx) => {
  ctx.manifest.racks.forEach((rack, r) => {
    const tors = ctx.facts.torsByRack[r] ?? [];
    if (tors.length === 1) {
      ctx.error(
        [...tors[0]!.path, 'role'],
        'tor-without-pair',
        `ToR ${tors[0]!.sw.name} has no pair in rack ${rack.name}`,
        'a rack has two ToRs (an MCLAG pair): add the second one',
      );
    } else if (tors.length === 0 && rack.nodes.length > 0) {
      ctx.error(
        ['racks', r, 'switches'],
        'rack-without-tors',
        `rack ${rack.name} has nodes but no ToR switches`,
        "add the rack's two ToRs with role: tor",
      );
    } else if (tors.length > 2) {
      ctx.error(
        [...tors[2]!.path, 'role'],
        'too-many-tors',
        `rack ${rack.name} has ${tors.length} ToRs`,
        'a rack has exactly one ToR pair',
      );
    }
    const mgmt = rack.switches.map((s, i) => ({ s, i })).filter(({ s }) => s.role === 'mgmt');
    if (mgmt.length > 1) {
      ctx.error(
        ['racks', r, 'switches', mgmt[1]!.i, 'role'],
        'too-many-mgmt',
        `rack ${rack.name} has ${mgmt.length} management switches`,
        'one management switch per rack',
      );
    }
  });
  const borders = [...ctx.facts.switches.values()].filter((s) => s.sw.role === 'border');
  if (borders.length === 0) {
    ctx.error(
      ['racks'],
      'no-border-routers',
      'the region has no border routers',
      'add a pair of switches with role: border',
    );
  } else if (borders.length === 1) {
    ctx.error(
      [...borders[0]!.path, 'role'],
      'border-without-pair',
      `border router ${borders[0]!.sw.name} has no pair`,
      'border routers come as a redundant pair: add the second one',
    );
  }
  for (const { sw, path } of ctx.facts.switches.values()) {
    if (sw.upstreams !== undefined && sw.role !== 'border') {
      ctx.error(
        [...path, 'upstreams'],
        'upstream-not-on-border',
        `${sw.name} is a ${sw.role} switch but has transit upstreams`,
        'transit sessions belong on border routers',
      );
    }
  }
};

function checkPort(
  ctx: RuleContext,
  model: SwitchModel | undefined,
  switchName: string,
  port: string,
  path: Path,
): boolean {
  if (model === undefined) return false;
  if (model.ports.some((p) => p.name === port)) return true;
  const near = closest(
    port,
    model.ports.map((p) => p.name),
  );
  ctx.error(
    path,
    'unknown-port',
    `${switchName} (${model.name}) has no port ${port}`,
    near
      ? `did you mean ${near}? ports are ${model.ports[0]!.name}–${model.ports.at(-1)!.name}`
      : `ports are ${model.ports[0]!.name}–${model.ports.at(-1)!.name}`,
  );
  return false;
}

export const cabling: Rule = (ctx) => {
  const { facts } = ctx;
  for (const { node, path, rack, sku } of facts.nodes) {
    const tors = facts.torsByRack[rack] ?? [];
    if (sku && node.nics.length !== sku.nics.length) {
      ctx.error(
        [...path, 'nics'],
        'nic-count',
        `${node.name} lists ${node.nics.length} NICs but SKU ${sku.name} has ${sku.nics.length}`,
        `list one MAC per NIC: ${sku.nics.map((n) => n.name).join(', ')}`,
      );
    }
    const cables = facts.cablesByNode.get(node.name) ?? [];
    for (const c of cables) {
      if (c.switch === undefined) {
        if (tors.length >= 2)
          ctx.error(
            c.path,
            'nic-not-cabled',
            `${node.name}'s nic${c.nic} has no ToR to go to`,
            'name its switch and port, or leave only two NICs for the two ToRs',
          );
        continue;
      }
      const target = facts.switches.get(c.switch);
      if (target === undefined || target.sw.role !== 'tor' || target.rack !== rack) {
        ctx.error(
          [...c.path, 'switch'],
          'nic-not-on-tor',
          `${node.name}'s nic${c.nic} is cabled to "${c.switch}", which is not a ToR of its rack`,
          `one of: ${tors.map((t) => t.sw.name).join(', ')}`,
        );
        continue;
      }
      if (c.port === undefined) {
        const model = target.model;
        if (node.slot !== undefined && model && c.nic === 0) {
          ctx.error(
            [...path, 'slot'],
            'slot-out-of-range',
            `slot ${node.slot} has no server port on ${c.switch} (${model.name} has ${model.serverPorts.length})`,
            `use a slot from 1 to ${model.serverPorts.length}, or name the port`,
          );
        } else if (node.slot === undefined) {
          ctx.error(
            c.path,
            'nic-without-port',
            `${node.name}'s nic${c.nic} has no port and the node has no slot`,
            'give the node a slot (cabling by convention) or the NIC a port',
          );
        }
        continue;
      }
      checkPort(ctx, target.model, c.switch, c.port, [
        ...c.path,
        node.nics[c.nic]?.port !== undefined ? 'port' : 'mac',
      ]);
    }
    if (tors.length === 2) {
      const reached = new Set(cables.map((c) => c.switch));
      const missing = tors.filter((t) => !reached.has(t.sw.name));
      if (missing.length > 0) {
        ctx.error(
          [...path, 'nics'],
          'not-dual-homed',
          `${node.name} is not cabled to ${missing.map((t) => t.sw.name).join(' and ')}`,
          'each node has one NIC on each ToR, so the LACP bond survives a ToR failure',
        );
      }
    }
  }
};

export const fabric: Rule = (ctx) => {
  const { facts } = ctx;
  ctx.manifest.racks.forEach((rack, r) => {
    rack.uplinks.forEach((u, i) => {
      const path: Path = ['racks', r, 'uplinks', i];
      const tor = facts.switches.get(u.switch);
      if (tor === undefined || tor.sw.role !== 'tor' || tor.rack !== r) {
        ctx.error(
          [...path, 'switch'],
          'uplink-not-from-tor',
          `uplink from "${u.switch}", which is not a ToR of rack ${rack.name}`,
          `one of: ${(facts.torsByRack[r] ?? []).map((t) => t.sw.name).join(', ')}`,
        );
      } else {
        checkPort(ctx, tor.model, u.switch, u.port, [...path, 'port']);
      }
      const border = facts.switches.get(u.border);
      if (border === undefined || border.sw.role !== 'border') {
        const names = [...facts.switches.values()]
          .filter((s) => s.sw.role === 'border')
          .map((s) => s.sw.name);
        ctx.error(
          [...path, 'border'],
          'uplink-not-to-border',
          `uplink to "${u.border}", which is not a border router`,
          `one of: ${names.join(', ')}`,
        );
      } else {
        checkPort(ctx, border.model, u.border, u.borderPort, [...path, 'borderPort']);
      }
    });
    for (const tor of facts.torsByRack[r] ?? []) {
      if (!rack.uplinks.some((u) => u.switch === tor.sw.name)) {
        ctx.error(
          [...tor.path, 'name'],
          'tor-without-uplink',
          `ToR ${tor.sw.name} has no uplink to a border router`,
          `add an entry under racks[${r}].uplinks`,
        );
      }
      const model = tor.model;
      if (model && model.peerLinkPorts.length === 0) {
        ctx.error(
          [...tor.path, 'model'],
          'no-peer-link',
          `${model.name} names no MCLAG peer-link ports`,
          'set peerLinkPorts in the hardware catalog',
        );
      }
    }
  });
  for (const { sw, path, model } of facts.switches.values()) {
    sw.upstreams?.forEach((up, i) =>
      checkPort(ctx, model, sw.name, up.port, [...path, 'upstreams', i, 'port']),
    );
  }
  // Peer-link ports are taken by the MCLAG pair: nothing else may be cabled to them.
  for (const use of facts.portUses) {
    const model = facts.switches.get(use.switch)?.model;
    if (facts.switches.get(use.switch)?.sw.role === 'tor' && model?.peerLinkPorts.includes(use.port)) {
      ctx.error(
        use.path,
        'port-is-peer-link',
        `${use.port} on ${use.switch} is an MCLAG peer-link port, but ${use.what} uses it`,
        'pick a port outside the peer link',
      );
    }
  }
};
