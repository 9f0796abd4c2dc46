// IPMI 2.0 through Debian's ipmitool (lanplus). The password reaches ipmitool through its environment
// (`-E` reads IPMI_PASSWORD), never its command line. Small BMCs drop sessions when commands come
// too fast, so commands to one BMC are spaced (3 s by default) and retried. Each ipmitool run is
// bounded in time and output, and what it prints is made printable before a message quotes it.
import { execa } from 'execa';
import type { BmcCredentials } from './credentials.js';
import { BmcError, type BootDevice, type PowerDriver, type PowerStatus } from './driver.js';
import { printable } from './printable.js';
import { sleep } from './sleep.js';

export const IPMITOOL = 'ipmitool';

export interface IpmiResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** It was killed for running longer than its time. */
  readonly timedOut?: boolean;
}

export interface IpmiRunLimits {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Runs ipmitool; injected so unit tests can record the argv and the environment. */
export type IpmiRun = (
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  limits: IpmiRunLimits,
) => Promise<IpmiResult>;

export interface IpmiOptions {
  readonly node: string;
  readonly address: string;
  /** UDP port; 623 by default. */
  readonly port?: number;
  readonly credentials: () => BmcCredentials;
  /** `ipmitool -C`: 17 (HMAC-SHA256/AES-128) on current BMCs, 3 on older ones. */
  readonly cipherSuite: number;
  /** Attempts per command on errors that are not an authentication refusal (default 3). */
  readonly attempts?: number;
  /** Least time between two commands to this BMC (default 3000 ms). */
  readonly gapMs?: number;
  /** One ipmitool run (default 30 s; it retransmits by itself within that, `-N 3 -R 2`). */
  readonly runTimeoutMs?: number;
  readonly ipmitool?: string;
  readonly run?: IpmiRun;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** More than any ipmitool answer: a BMC that makes it print on is cut off here. */
const MAX_OUTPUT_BYTES = 256 * 1024;

const defaultRun: IpmiRun = async (file, args, env, limits) => {
  const r = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    env,
    timeout: limits.timeoutMs,
    maxBuffer: MAX_OUTPUT_BYTES,
    ...(limits.signal ? { cancelSignal: limits.signal } : {}),
  });
  return {
    exitCode: r.exitCode ?? 1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    ...(r.timedOut ? { timedOut: true } : {}),
  };
};

/** When the last command to each BMC (address:port) ended, for the spacing; shared by every driver in the process. */
const lastCommand = new Map<string, number>();

// ipmitool words a refused login differently by BMC and cipher suite; these are the RAKP failures.
const AUTH_REFUSED =
  /unauthorized name|RAKP \d HMAC is invalid|RAKP \d message indicates an error|invalid user ?name/i;

const BOOTDEV: Record<BootDevice, string> = { pxe: 'pxe', disk: 'disk' };

export class IpmiDriver implements PowerDriver {
  readonly protocol = 'ipmi' as const;
  private readonly key: string;

  constructor(private readonly o: IpmiOptions) {
    this.key = `${o.address}:${o.port ?? 623}`;
  }

  async status(signal?: AbortSignal): Promise<PowerStatus> {
    let power: PowerStatus['power'];
    try {
      const out = await this.ipmitool(['chassis', 'power', 'status'], signal);
      const m = /Chassis Power is (on|off)/i.exec(out);
      if (!m)
        return {
          power: 'unknown',
          reason: `ipmitool answered ${JSON.stringify(printable(out, 80).trim())}`,
        };
      power = m[1]!.toLowerCase() as 'on' | 'off';
    } catch (err) {
      if (err instanceof BmcError) return { power: 'unknown', reason: this.reason(err) };
      throw err;
    }
    // The boot flags are a second command; a BMC that cannot report them still has a power state.
    try {
      const bootNext = parseBootFlags(await this.ipmitool(['chassis', 'bootparam', 'get', '5'], signal));
      return { power, ...(bootNext ? { bootNext } : {}) };
    } catch (err) {
      if (err instanceof BmcError) return { power };
      throw err;
    }
  }

  async on(signal?: AbortSignal): Promise<void> {
    await this.ipmitool(['chassis', 'power', 'on'], signal);
  }

  async off(signal?: AbortSignal): Promise<void> {
    await this.ipmitool(['chassis', 'power', 'off'], signal);
  }

  async cycle(signal?: AbortSignal): Promise<void> {
    // IPMI refuses a power cycle of a machine that is off (completion code 0xd5 on many BMCs).
    const { power } = await this.status(signal);
    if (power === 'unknown') throw new BmcError(this.o.node, `IPMI ${this.o.address}: power state unknown`);
    await this.ipmitool(['chassis', 'power', power === 'off' ? 'on' : 'cycle'], signal);
  }

  async bootNext(device: BootDevice, signal?: AbortSignal): Promise<void> {
    // Without `options=persistent`, ipmitool sets the override for the next boot only.
    await this.ipmitool(['chassis', 'bootdev', BOOTDEV[device]], signal);
  }

  async close(): Promise<void> {
    // Every ipmitool call opens and closes its own session.
  }

  private async ipmitool(command: readonly string[], signal?: AbortSignal): Promise<string> {
    const { username, password } = this.o.credentials();
    const args = [
      '-I',
      'lanplus',
      '-H',
      this.o.address,
      '-p',
      String(this.o.port ?? 623),
      '-U',
      username,
      '-E',
      '-C',
      String(this.o.cipherSuite),
      // -v: ipmitool names why a session failed (RAKP errors) only when verbose; stdout stays the same.
      '-v',
      // ipmitool's own retransmissions per session: a lost UDP packet is not a failed command.
      '-N',
      '3',
      '-R',
      '2',
      ...command,
    ];
    const env = { ...stringEnv(), IPMI_PASSWORD: password };
    const pause = this.o.sleep ?? sleep;
    const attempts = this.o.attempts ?? 3;
    const timeoutMs = this.o.runTimeoutMs ?? 30_000;
    for (let i = 1; ; i++) {
      signal?.throwIfAborted();
      const wait = (lastCommand.get(this.key) ?? 0) + (this.o.gapMs ?? 3000) - Date.now();
      if (wait > 0) await pause(wait, signal);
      let r: IpmiResult;
      try {
        r = await (this.o.run ?? defaultRun)(this.o.ipmitool ?? IPMITOOL, args, env, {
          timeoutMs,
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
          throw new BmcError(this.o.node, 'ipmitool is not installed', 'apt-get install ipmitool');
        throw err;
      } finally {
        lastCommand.set(this.key, Date.now());
      }
      signal?.throwIfAborted();
      // Not retried: ipmitool retransmitted within its run already, and a BMC that holds it this
      // long would hold the next one as long.
      if (r.timedOut)
        throw new BmcError(
          this.o.node,
          `IPMI ${this.o.address}: \`ipmitool ${command.join(' ')}\` did not finish within ${timeoutMs / 1000} s`,
          'check that the BMC is reachable from this host (UDP 623) and answers',
          'deadline',
        );
      if (r.exitCode === 0) return r.stdout;
      if (/not found|ENOENT/.test(r.stderr) && r.exitCode === 127)
        throw new BmcError(this.o.node, 'ipmitool is not installed', 'apt-get install ipmitool');
      const said = summary(r.stderr || r.stdout, password);
      if (AUTH_REFUSED.test(r.stderr))
        throw new BmcError(
          this.o.node,
          `IPMI ${this.o.address}: the BMC refused the credentials (${said})`,
          'check the username and password in its credentials file, and the cipher suite (bmc.cipherSuite)',
          'auth',
        );
      if (i >= attempts)
        throw new BmcError(
          this.o.node,
          `IPMI ${this.o.address}: \`ipmitool ${command.join(' ')}\` failed after ${attempts} attempts: ${said}`,
          'check that the BMC is reachable from this host (UDP 623) and that bmc.cipherSuite is one it offers',
        );
    }
  }

  private reason(err: BmcError): string {
    return err.message.startsWith(`${this.o.node}: `)
      ? err.message.slice(this.o.node.length + 2)
      : err.message;
  }
}

/**
 * The one-time boot override from `chassis bootparam get 5`. A flag the BMC marks invalid is no
 * override, whatever device selector it still holds.
 */
export function parseBootFlags(out: string): PowerStatus['bootNext'] {
  if (/Boot Flag Invalid/i.test(out)) return 'none';
  const selector = /Boot Device Selector\s*:\s*(.+)/i.exec(out)?.[1] ?? '';
  if (/PXE/i.test(selector)) return 'pxe';
  if (/Hard-?Drive/i.test(selector)) return 'disk';
  if (/No override/i.test(selector)) return 'none';
  return undefined;
}

function stringEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** ipmitool's error lines (not its verbose chatter), short, with the password cut out should any BMC ever echo it. */
function summary(text: string, password: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^>\s*/, '').trim())
    .filter((l) => l && !/^(Loading IANA|Running Get|IPMI LAN host|Using )/i.test(l));
  let t = lines.slice(-3).join('; ');
  if (password) t = t.split(password).join('***');
  return printable(t, 300) || 'no output';
}
