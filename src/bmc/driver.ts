// What every BMC driver offers the power phases and `civostack bmc`: the power state, power actions
// and a one-time boot device. "unknown" (the BMC is unreachable or its answer unreadable) is never "off".
import { UserError } from '../errors.js';
import { printable } from './printable.js';

export type PowerState = 'on' | 'off' | 'unknown';
export type BootDevice = 'pxe' | 'disk';

export interface PowerStatus {
  readonly power: PowerState;
  /** The one-time boot override the BMC reports, when it reports one. */
  readonly bootNext?: BootDevice | 'none';
  /** Why the state is unknown (unreachable, auth refused, …), in words for the user. */
  readonly reason?: string;
  /** Manufacturer and model, as the BMC names the machine (Redfish), made printable. */
  readonly model?: string;
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

/**
 * What went wrong, for code that decides on it (and tests): `foreign-url` a BMC named a URL off its
 * own origin (nothing was sent there), `redirect` too many redirects, `too-large` a reply longer than
 * the bound, `deadline` no complete answer in time, `auth` credentials refused, `unreachable` no
 * connection, `tls` a certificate that does not verify, `failed` anything else.
 */
export type BmcErrorKind =
  'foreign-url' | 'redirect' | 'too-large' | 'deadline' | 'auth' | 'unreachable' | 'tls' | 'failed';

/**
 * A BMC refused, failed or could not be reached; the message names the node and never a credential.
 * Its text may quote the BMC, so control characters are stripped here, before any terminal or event.
 */
export class BmcError extends UserError {
  constructor(
    readonly node: string,
    message: string,
    hint?: string,
    readonly kind: BmcErrorKind = 'failed',
  ) {
    super(
      printable(`${node}: ${message}`, Infinity),
      hint === undefined ? undefined : printable(hint, Infinity),
    );
    this.name = 'BmcError';
  }
}
