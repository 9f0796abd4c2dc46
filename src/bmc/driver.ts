// What every BMC driver offers the power phases and `civostack bmc`: the power state, power actions
// and a one-time boot device. "unknown" (the BMC is unreachable or its answer unreadable) is never "off".
import { UserError } from '../errors.js';

export type PowerState = 'on' | 'off' | 'unknown';
export type BootDevice = 'pxe' | 'disk';

export interface PowerStatus {
  readonly power: PowerState;
  /** The one-time boot override the BMC reports, when it reports one. */
  readonly bootNext?: BootDevice | 'none';
  /** Why the state is unknown (unreachable, auth refused, …), in words for the user. */
  readonly reason?: string;
}

export interface PowerDriver {
  readonly protocol: 'redfish' | 'ipmi';
  status(signal?: AbortSignal): Promise<PowerStatus>;
  on(signal?: AbortSignal): Promise<void>;
  off(signal?: AbortSignal): Promise<void>;
  /** Power-cycles a machine that is on, powers on one that is off. */
  cycle(signal?: AbortSignal): Promise<void>;
  /** Boot `device` on the next boot only (Redfish `Once`, IPMI without `persistent`). */
  bootNext(device: BootDevice, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The driver for a node's BMC, or undefined when the manifest gives it no credentials (power by hand). */
export type PowerDriverFactory = (node: string) => PowerDriver | undefined;

/** A BMC refused, failed or could not be reached; the message names the node and never a credential. */
export class BmcError extends UserError {
  constructor(
    readonly node: string,
    message: string,
    hint?: string,
  ) {
    super(`${node}: ${message}`, hint);
    this.name = 'BmcError';
  }
}
