// Supervises the real dnsmasq: starts it in the foreground with the rendered configuration, turns
// its log into events (DHCP leases, TFTP sends, unknown MACs), and stops it cleanly.
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../errors.js';
import { parseMac } from '../manifest/index.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export type DnsmasqEvent =
  | { readonly kind: 'ack'; readonly mac: string; readonly address: string; readonly host?: string }
  | { readonly kind: 'ignored'; readonly mac: string }
  | { readonly kind: 'tftp'; readonly file: string; readonly to: string }
  | { readonly kind: 'log'; readonly line: string };

/** One dnsmasq log line → an event. Formats as dnsmasq 2.90 prints them with --log-facility=-. */
export function parseDnsmasqLine(line: string): DnsmasqEvent {
  let m = /DHCPACK\([^)]*\) (\d+\.\d+\.\d+\.\d+) ([0-9a-f:]{17})(?: (\S+))?/i.exec(line);
  if (m)
    return { kind: 'ack', address: m[1]!, mac: parseMac(m[2]!) ?? m[2]!, ...(m[3] ? { host: m[3] } : {}) };
  m = /DHCP(?:DISCOVER|REQUEST)\([^)]*\)(?: \S+)? ([0-9a-f:]{17}) (?:ignored|no address available)/i.exec(
    line,
  );
  if (m) return { kind: 'ignored', mac: parseMac(m[1]!) ?? m[1]! };
  // In proxy-DHCP mode the same refusal reads "PXE(br0) <mac> proxy-ignored".
  m = /PXE\([^)]*\) ([0-9a-f:]{17}) proxy-ignored/i.exec(line);
  if (m) return { kind: 'ignored', mac: parseMac(m[1]!) ?? m[1]! };
  m = /sent (\S+) to (\d+\.\d+\.\d+\.\d+)/.exec(line);
  if (m && line.includes('tftp')) return { kind: 'tftp', file: m[1]!, to: m[2]! };
  return { kind: 'log', line };
}

export interface Dnsmasq {
  readonly pid: number;
  stop(): Promise<void>;
  /** Resolves when dnsmasq exits by itself (a crash), with its exit code. */
  readonly exited: Promise<number>;
}

/**
 * A dnsmasq left running by a supervisor that was killed (SIGKILL skips every cleanup) still holds
 * the DHCP, DNS and TFTP ports: stop it if it is running this same configuration.
 */
async function stopLeftover(pidFile: string, configFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  const running = () => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`--conf-file=${configFile}`);
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !running()) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && running(); i++) await sleep(100);
  if (running()) process.kill(pid, 'SIGKILL');
}

export async function startDnsmasq(
  configFile: string,
  onEvent: (e: DnsmasqEvent) => void,
  binary = DNSMASQ,
  pidFile = `${configFile}.pid`,
): Promise<Dnsmasq> {
  await stopLeftover(pidFile, configFile);
  if (!existsSync(binary)) {
    throw new UserError(`${binary} is not installed`, "install Debian's dnsmasq-base (bash .ci/setup does)");
  }
  const child = execa(binary, ['--keep-in-foreground', `--conf-file=${configFile}`, '--log-facility=-'], {
    reject: false,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    cleanup: true,
    // Its own process group: a Ctrl-C in the terminal reaches us, and we stop dnsmasq in order.
    detached: true,
  });
  writeFileSync(pidFile, `${child.pid ?? ''}\n`);
  const early: string[] = [];
  let stopping = false;
  const lines = createInterface({ input: child.stderr! });
  lines.on('line', (line) => {
    if (early.length < 50) early.push(line);
    onEvent(parseDnsmasqLine(line));
  });
  const exited = child.then((r) => r.exitCode ?? -1);
  // dnsmasq reports bad configuration and busy ports by exiting within moments of starting.
  const settled = await Promise.race([exited.then((code) => ({ code })), sleep(700).then(() => undefined)]);
  if (settled !== undefined) {
    throw new UserError(
      `dnsmasq exited with code ${settled.code}: ${
        early
          .filter((l) => /dnsmasq/.test(l))
          .slice(-3)
          .join(' | ') || 'no output'
      }`,
      "dnsmasq's own words are above; a busy port means another DHCP, DNS or TFTP server runs on this host",
    );
  }
  return {
    pid: child.pid!,
    exited: exited.then((code) => (stopping ? 0 : code)),
    async stop() {
      stopping = true;
      if (child.exitCode !== undefined && child.exitCode !== null) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
