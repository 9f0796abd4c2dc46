// Uniqueness: host names, MACs in any spelling, and switch ports each cabled once.
import { parseMac } from '../mac.js';
import type { Path } from '../diagnostics.js';
import { reportDuplicates, type Rule } from './context.js';

interface Named {
  readonly name: string;
  readonly kind: string;
  readonly path: Path;
}

export const uniqueNames: Rule = (ctx) => {
  const items: Named[] = [];
  ctx.manifest.racks.forEach((rack, r) => {
    items.push({ name: rack.name, kind: 'rack', path: ['racks', r, 'name'] });
    rack.switches.forEach((sw, s) =>
      items.push({ name: sw.name, kind: 'device', path: ['racks', r, 'switches', s, 'name'] }),
    );
    rack.nodes.forEach((n, i) =>
      items.push({ name: n.name, kind: 'device', path: ['racks', r, 'nodes', i, 'name'] }),
    );
  });
  for (const kind of ['rack', 'device']) {
    reportDuplicates(
      ctx,
      items.filter((i) => i.kind === kind),
      (i) => i.name,
      (i) => i.path,
      (i, _first, where) => `${kind} name "${i.name}" is already used at ${where}`,
      'names become host names and keys of the allocation state: each must be unique in the region',
      `duplicate-${kind}-name`,
    );
  }
  ctx.manifest.racks.forEach((rack, r) =>
    rack.switches.forEach((sw, s) =>
      reportDuplicates(
        ctx,
        (sw.upstreams ?? []).map((u, i) => ({ u, i })),
        ({ u }) => u.name,
        ({ i }) => ['racks', r, 'switches', s, 'upstreams', i, 'name'],
        ({ u }, _f, where) => `upstream "${u.name}" is already defined on ${sw.name} at ${where}`,
        'give each transit session on a router its own name',
        'duplicate-upstream-name',
      ),
    ),
  );
};

/**
 * `renamedFrom` moves a node's recorded allocations to its new name: the old name must be free (not a
 * device of this manifest, not its own name) and claimed by one node only.
 */
export const renames: Rule = (ctx) => {
  const devices = new Map<string, Path>();
  ctx.manifest.racks.forEach((rack, r) => {
    rack.switches.forEach((sw, s) => devices.set(sw.name, ['racks', r, 'switches', s, 'name']));
    rack.nodes.forEach((n, i) => devices.set(n.name, ['racks', r, 'nodes', i, 'name']));
  });
  const claims: { from: string; node: string; path: Path }[] = [];
  ctx.manifest.racks.forEach((rack, r) =>
    rack.nodes.forEach((n, i) => {
      if (n.renamedFrom === undefined) return;
      const path: Path = ['racks', r, 'nodes', i, 'renamedFrom'];
      const existing = devices.get(n.renamedFrom);
      if (n.renamedFrom === n.name) {
        ctx.error(
          path,
          'rename-to-itself',
          `${n.name} is renamed from its own name`,
          'renamedFrom names the previous name; remove it once the rename has been planned, or give the old name',
        );
      } else if (existing) {
        ctx.error(
          path,
          'rename-from-existing',
          `${n.name} is renamed from "${n.renamedFrom}", which is still a device here at ${ctx.at(existing)}`,
          "a rename takes over the old name's allocations: the old name must be gone from the manifest",
        );
      } else claims.push({ from: n.renamedFrom, node: n.name, path });
    }),
  );
  reportDuplicates(
    ctx,
    claims,
    (c) => c.from,
    (c) => c.path,
    (c, first, where) => `${c.node} and ${first.node} are both renamed from "${c.from}" (${where})`,
    'one node takes over an old name; give the other its own renamedFrom or none',
    'duplicate-rename',
  );
};

interface MacUse {
  readonly mac: string;
  readonly owner: string;
  readonly path: Path;
}

export const macs: Rule = (ctx) => {
  const uses: MacUse[] = [];
  const check = (text: string, owner: string, path: Path): void => {
    const mac = parseMac(text);
    if (mac === undefined) {
      ctx.error(
        path,
        'invalid-mac',
        `"${text}" is not a MAC address`,
        'write six hex octets: 52:54:00:12:34:56, 52-54-00-12-34-56 or 5254.0012.3456',
      );
    } else if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) {
      ctx.error(
        path,
        'multicast-mac',
        `${mac} is a multicast MAC (lowest bit of the first octet is set)`,
        'a NIC has a unicast MAC: check for a typo in the first octet',
      );
    } else {
      uses.push({ mac, owner, path });
    }
  };
  ctx.manifest.racks.forEach((rack, r) => {
    rack.switches.forEach((sw, s) =>
      check(sw.mgmtMac, `${sw.name}'s management port`, ['racks', r, 'switches', s, 'mgmtMac']),
    );
    rack.nodes.forEach((node, n) => {
      const base = ['racks', r, 'nodes', n];
      if (node.bmcMac !== undefined) check(node.bmcMac, `${node.name}'s BMC`, [...base, 'bmcMac']);
      node.nics.forEach((nic, i) => check(nic.mac, `${node.name}'s nic${i}`, [...base, 'nics', i, 'mac']));
    });
  });
  reportDuplicates(
    ctx,
    uses,
    (u) => u.mac,
    (u) => u.path,
    (u, first, where) => `MAC ${u.mac} is already ${first.owner} at ${where}`,
    'each MAC belongs to one interface: copy it again from the rack sheet or the BMC',
    'duplicate-mac',
  );
};

export const portsCabledOnce: Rule = (ctx) => {
  reportDuplicates(
    ctx,
    ctx.facts.portUses,
    (u) => `${u.switch}\u0000${u.port}`,
    (u) => u.path,
    (u, first, where) => `${u.port} on ${u.switch} is already cabled to ${first.what} at ${where}`,
    'a switch port takes one cable: pick a free port',
    'port-cabled-twice',
  );
};
