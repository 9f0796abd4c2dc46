// Turns sushy-tools' fake-driver notifications into `lab vm` hook calls. The fake driver keeps a
// system's power state and boot device and, with `external_notifier`, PUTs the whole system as JSON
// to a URL on every change; this relay is that URL, inside the lab's namespace.
import { createServer, type Server } from 'node:http';
import type { StateDir } from '../state/index.js';
import { labVm, vmIsOn } from './vm-hook.js';

/** The fake driver's system record, as it sends it (sushy_tools/emulator/resources/systems/fakedriver.py). */
interface FakeSystem {
  readonly name?: string;
  readonly power_state?: string;
  readonly boot_device?: string;
  readonly pending_power?: unknown;
}

export const RELAY_PORT = 8999;

/**
 * The hook calls one notification means. A power change (power_state differs from the last one seen)
 * starts or stops the machine once any pending transition has landed; a notification without a power
 * change or pending transition is a setting change (a PATCH of Boot), whose boot device is recorded
 * as the next boot's: the fake driver keeps overrides "Continuous", the hook makes them one-time.
 */
export function relayActions(
  last: string | undefined,
  sys: FakeSystem,
): ({ action: 'start' | 'stop' } | { action: 'boot-next'; device: 'pxe' | 'disk' })[] {
  const pending = sys.pending_power !== undefined && sys.pending_power !== null;
  if (sys.power_state !== last) {
    if (sys.power_state === 'On' && !pending) return [{ action: 'start' }];
    if (sys.power_state === 'Off') return [{ action: 'stop' }];
    return [];
  }
  if (pending) return [];
  if (sys.boot_device === 'Pxe') return [{ action: 'boot-next', device: 'pxe' }];
  if (sys.boot_device === 'Hdd') return [{ action: 'boot-next', device: 'disk' }];
  return [];
}

/** Serves until closed; each node's notifications are handled in order, one at a time. */
export function startRedfishRelay(
  state: StateDir,
  listen: { host: string; port: number },
  log: (line: string) => void,
): Promise<Server> {
  const lastPower = new Map<string, string | undefined>();
  const queues = new Map<string, Promise<void>>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Answered at once: sushy-tools waits for this answer inside the request that caused the change.
      res.writeHead(204).end();
      let sys: FakeSystem;
      try {
        sys = JSON.parse(Buffer.concat(chunks).toString('utf8')) as FakeSystem;
      } catch {
        return log('ignored a notification that is not JSON');
      }
      const node = sys.name ?? decodeURIComponent((req.url ?? '/').slice(1));
      // Before the first notification, the machine itself says what power state sushy-tools started from.
      if (!lastPower.has(node)) lastPower.set(node, vmIsOn(state, node) ? 'On' : 'Off');
      const actions = relayActions(lastPower.get(node), sys);
      lastPower.set(node, sys.power_state);
      const prev = queues.get(node) ?? Promise.resolve();
      const next = prev.then(async () => {
        for (const a of actions) {
          try {
            const r = await labVm(state, node, a.action, 'redfish', 'device' in a ? a.device : undefined);
            log(`${node}: ${a.action}${'device' in a ? ` ${a.device}` : ''}: ${r}`);
          } catch (err) {
            log(`${node}: ${a.action} failed: ${(err as Error).message}`);
          }
        }
      });
      queues.set(node, next);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve(server));
  });
}
