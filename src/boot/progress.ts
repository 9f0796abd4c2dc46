// The boot service's events as progress events (src/events.ts): node states stay typed, from the
// node store to the renderer.
import type { CivoEvent } from '../events.js';
import type { DnsmasqEvent } from './dnsmasq.js';
import type { BootEvent } from './server.js';

export function bootProgress(e: BootEvent | { kind: 'dnsmasq'; event: DnsmasqEvent }): CivoEvent | undefined {
  switch (e.kind) {
    case 'node':
      return {
        kind: 'node-state',
        code: 'node.state',
        node: e.node,
        state: e.state.state,
        ...(e.state.percent !== undefined ? { percent: e.state.percent } : {}),
        ...(e.state.message !== undefined ? { message: e.state.message } : {}),
      };
    case 'unknown-mac':
      return {
        kind: 'warning',
        code: 'boot.unknown-mac',
        message: `unknown MAC ${e.mac} (${e.from}): not in the manifest; see civostack pxe unknown`,
      };
    case 'refused':
      return {
        kind: 'log',
        code: 'boot.refused',
        message: `refused ${e.method} ${e.path} from ${e.from}: ${e.status} ${e.reason}`,
      };
    case 'dnsmasq':
      return e.event.kind === 'tftp'
        ? { kind: 'log', code: 'boot.tftp', message: `tftp: sent ${e.event.file} to ${e.event.to}` }
        : undefined;
    case 'served':
      return undefined;
  }
}
