// One BMC operation across many nodes, a few at a time. Every node gets its own result: one BMC that
// fails or cannot be reached is reported by name and never hides the others.
import type { BootDevice, PowerDriver, PowerDriverFactory, PowerState, PowerStatus } from './driver.js';

export type BmcAction = 'on' | 'off' | 'cycle' | { readonly bootNext: BootDevice };

export interface BmcResult {
  readonly node: string;
  readonly protocol?: 'redfish' | 'ipmi';
  readonly ok: boolean;
  /** Status only. */
  readonly power?: PowerState;
  readonly bootNext?: PowerStatus['bootNext'];
  /** Status only: the machine as its BMC names it. */
  readonly model?: string;
  /** Why it failed (or why the state is unknown), in words; never a credential. */
  readonly error?: string;
  readonly hint?: string;
}

export interface FanoutOptions {
  readonly concurrency: number;
  readonly signal?: AbortSignal;
}

const NO_BMC = 'the manifest gives this node no BMC credentials: power it by hand';

async function eachLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

function failure(node: string, err: unknown, protocol?: 'redfish' | 'ipmi'): BmcResult {
  const e = err as { message?: string; hint?: string; name?: string };
  const message = (e.message ?? String(err)).replace(new RegExp(`^${node}: `), '');
  return {
    node,
    ...(protocol ? { protocol } : {}),
    ok: false,
    error: message,
    ...(e.hint ? { hint: e.hint } : {}),
  };
}

/** Closing is tidying up (a Redfish session that would expire anyway): it never fails the node or the others. */
async function closeQuietly(driver: PowerDriver): Promise<void> {
  try {
    await driver.close();
  } catch {
    // Nothing left to do for this node.
  }
}

/** The power state of each node's BMC; "unknown" (with the reason) where it cannot be read. */
export function bmcStatus(
  nodes: readonly string[],
  drivers: PowerDriverFactory,
  o: FanoutOptions,
): Promise<BmcResult[]> {
  return eachLimited(nodes, o.concurrency, async (node) => {
    const driver = drivers(node);
    if (!driver) return { node, ok: false, power: 'unknown', error: NO_BMC };
    try {
      const s = await driver.status(o.signal);
      return {
        node,
        protocol: driver.protocol,
        ok: s.power !== 'unknown',
        power: s.power,
        ...(s.bootNext ? { bootNext: s.bootNext } : {}),
        ...(s.model ? { model: s.model } : {}),
        ...(s.reason ? { error: s.reason } : {}),
      };
    } catch (err) {
      return { ...failure(node, err, driver.protocol), power: 'unknown' };
    } finally {
      await closeQuietly(driver);
    }
  });
}

/** Runs `action` on each node's BMC. */
export function bmcAction(
  nodes: readonly string[],
  drivers: PowerDriverFactory,
  action: BmcAction,
  o: FanoutOptions,
): Promise<BmcResult[]> {
  return eachLimited(nodes, o.concurrency, async (node) => {
    const driver = drivers(node);
    if (!driver) return { node, ok: false, error: NO_BMC };
    try {
      if (action === 'on') await driver.on(o.signal);
      else if (action === 'off') await driver.off(o.signal);
      else if (action === 'cycle') await driver.cycle(o.signal);
      else await driver.bootNext(action.bootNext, o.signal);
      return { node, protocol: driver.protocol, ok: true };
    } catch (err) {
      return failure(node, err, driver.protocol);
    } finally {
      await closeQuietly(driver);
    }
  });
}
