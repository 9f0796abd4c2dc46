// Validate, plan and render: shows each device's configuration diff against what was last applied,
// then records what the render needs kept (new allocations, generated secrets).
import { join } from 'node:path';
import { diffTrees, formatChanges, type FileChange } from '../../diff/index.js';
import { macHyphen, type Mac } from '../../manifest/index.js';
import { commit, hasPending, previewTree, WOULD_BE_GENERATED } from '../../pipeline.js';
import { readTree } from '../../state/index.js';
import type { RegionContext } from '../context.js';
import { COMMITTED } from '../outputs.js';
import type { Action, Phase } from '../phase.js';

interface Facts {
  readonly changes: readonly FileChange[];
  readonly pending: boolean;
}

export const preparePhase: Phase<RegionContext, Facts, true> = {
  id: 'prepare',
  title: 'Validate, plan and render',
  async observe(ctx) {
    const p = ctx.prepared();
    const baseline = readTree(join(p.state.path, 'applied'));
    const owners = new Map(
      p.plan.nodes.flatMap((n) => n.nics.map((nic) => [macHyphen(nic.mac as Mac), n.name] as const)),
    );
    return Promise.resolve({
      changes: diffTrees(baseline, previewTree(p), p.secretValues, owners),
      pending: hasPending(p) && !ctx.outputOf(COMMITTED),
    });
  },
  shouldRun: (f) => f.pending || f.changes.length > 0,
  skipReason: () => 'every device is as last applied; nothing new to record',
  actions(f, ctx) {
    const p = ctx.prepared();
    const out: Action[] = [];
    if (f.pending) {
      if (p.pending.newAllocations.length > 0)
        out.push({
          target: 'state',
          text: `record ${p.pending.newAllocations.length} new allocation(s) in allocations.json`,
        });
      else if (p.pending.allocations) out.push({ target: 'state', text: 'update allocations.json' });
      for (const s of p.pending.secrets)
        if (!s.name.endsWith('.pub'))
          out.push({ target: 'state', text: `secret ${s.name}: ${WOULD_BE_GENERATED}` });
    }
    const byDevice = new Map<string, FileChange[]>();
    for (const c of f.changes) byDevice.set(c.device, [...(byDevice.get(c.device) ?? []), c]);
    for (const [device, list] of [...byDevice].sort(([a], [b]) => a.localeCompare(b))) {
      const added = list.reduce((n, c) => n + c.added, 0);
      const removed = list.reduce((n, c) => n + c.removed, 0);
      out.push({
        target: device,
        text: `${list.length} file(s) would change (+${added} -${removed}): ${list.map((c) => c.path).join(', ')}`,
        diff: formatChanges(list, false).split('\n').slice(0, -2).join('\n'),
      });
    }
    return out;
  },
  run(ctx) {
    commit(ctx.prepared());
    return Promise.resolve(true as const);
  },
};
