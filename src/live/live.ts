// Reading every switch at once under the shared limit: one outcome per switch, so one that cannot
// be reached is named with its error and never hides the others.
import type { LiveDevice } from '../diff/index.js';
import { fanOut, type FanOutEvent, type HostLog, type Limiter } from '../remote/index.js';
import { readDevice } from './device.js';
import { civostackKey, openSwitch, switchTargets, type SwitchTarget, type Unreachable } from './targets.js';
import type { Prepared } from '../pipeline.js';

export interface LiveRead {
  readonly targets: readonly SwitchTarget[];
  readonly devices: readonly LiveDevice[];
  /** Switches that were tried and failed, each with its error. */
  readonly failed: readonly { readonly device: string; readonly error: Error }[];
  /** Switches not tried: no pinned host key. */
  readonly unreachable: readonly Unreachable[];
}

export interface LiveReadOptions {
  readonly limiter: Limiter;
  readonly signal?: AbortSignal;
  /** Per-switch command log; `region diff` passes none (it writes nothing). */
  readonly log?: (device: string) => HostLog;
  readonly onEvent?: (e: FanOutEvent) => void;
  /** Only these switches (the fabric phase after a push). */
  readonly only?: ReadonlySet<string>;
}

export async function readLive(p: Prepared, o: LiveReadOptions): Promise<LiveRead> {
  const all = switchTargets(p);
  const targets = o.only ? all.targets.filter((t) => o.only!.has(t.name)) : all.targets;
  const key = targets.length > 0 ? civostackKey(p.state) : Buffer.alloc(0);
  const outcomes = await fanOut(
    targets,
    async (t, signal) => {
      const host = openSwitch(t, key, o.log ? { log: o.log(t.name) } : {});
      try {
        return await readDevice(host, t, p.secretValues, signal);
      } finally {
        await host.close();
      }
    },
    {
      step: 'read switch',
      limiter: o.limiter,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    },
  );
  return {
    targets,
    devices: outcomes.flatMap((x) => (x.ok ? [x.value] : [])),
    failed: outcomes.flatMap((x) => (x.ok ? [] : [{ device: x.host, error: x.error }])),
    unreachable: o.only ? all.unreachable.filter((u) => o.only!.has(u.device)) : all.unreachable,
  };
}
