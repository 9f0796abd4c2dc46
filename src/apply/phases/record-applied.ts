// Record what is on the devices: the render of every device this run brought up (the boot
// service's files, each SSH-ready node's seed and scripts) goes to `.civostack/<region>/applied/`,
// so `region diff` compares with what the devices really got; so does each switch the fabric phase
// found or left running its render. Devices this run did not reach keep what was recorded before.
import { join } from 'node:path';
import { readNodeStates } from '../../boot/index.js';
import { deviceOfPath } from '../../diff/index.js';
import { macHyphen, type Mac } from '../../manifest/index.js';
import type { FileTree, RenderedFile } from '../../render/index.js';
import { readTree, writeTree } from '../../state/index.js';
import { committedRegion, type RegionContext } from '../context.js';
import { SWITCH_FILES_IN_SYNC } from '../outputs.js';
import type { Phase } from '../phase.js';

interface Facts {
  /** The applied tree as it would be after this run. */
  readonly next: FileTree;
  /** Devices whose recorded render changes. */
  readonly devices: readonly string[];
}

export function appliedPath(ctx: RegionContext): string {
  return join(ctx.state.path, 'applied');
}

export const recordAppliedPhase: Phase<RegionContext, Facts> = {
  id: 'record-applied',
  title: 'Record the applied render of each device',
  observe(ctx) {
    const p = ctx.prepared();
    const before = readTree(appliedPath(ctx));
    const { nodes } = readNodeStates(ctx.state);
    const applied = new Set(
      p.plan.nodes.filter((n) => nodes[n.name]?.state === 'ssh-ready').map((n) => n.name),
    );
    if (applied.size > 0) applied.add('boot');
    const owners = new Map(
      p.plan.nodes.flatMap((n) => n.nics.map((nic) => [macHyphen(nic.mac as Mac), n.name] as const)),
    );
    const switchFiles = ctx.outputOf(SWITCH_FILES_IN_SYNC) ?? new Set<string>();
    const next = new Map<string, RenderedFile>();
    // Devices this run did not apply keep what was recorded for them.
    for (const [path, content] of before) {
      const device = p.tree.get(path)?.device ?? deviceOfPath(path, owners);
      if (!applied.has(device) && !switchFiles.has(path))
        next.set(path, { content, mode: 0o600, device, secrets: [] });
    }
    for (const [path, f] of p.tree) if (applied.has(f.device) || switchFiles.has(path)) next.set(path, f);
    const devices = new Set<string>();
    for (const path of new Set([...before.keys(), ...next.keys()]))
      if (before.get(path) !== next.get(path)?.content)
        devices.add(next.get(path)?.device ?? deviceOfPath(path, owners));
    return Promise.resolve({
      next: new Map([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      devices: [...devices].sort(),
    });
  },
  shouldRun: (f) => f.devices.length > 0,
  skipReason: () => 'the recorded render is already what the devices have',
  actions: (f) => f.devices.map((d) => ({ target: d, text: 'record its applied render' })),
  run(ctx, _actions, facts) {
    committedRegion(ctx);
    writeTree(appliedPath(ctx), facts.next);
    return Promise.resolve();
  },
};
