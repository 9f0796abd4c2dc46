// Supervises the real dnsmasq: starts it in the foreground with the rendered configuration, turns
// its log into events (DHCP leases, TFTP sends, unknown MACs), and stops it cleanly.
import { existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../errors.js';
import { sleep, spawnSupervised, stopLeftover } from './supervise.js';
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

export async function startDnsmasq(
  configFile: string,
  onEvent: (e: DnsmasqEvent) => void,
  binary = DNSMASQ,
  pidFile = `${configFile}.pid`,
): Promise<Dnsmasq> {
  await stopLeftover(pidFile, `--conf-file=${configFile}`);
  if (!existsSync(binary)) {
    throw new UserError(`${binary} is not installed`, "install Debian's dnsmasq-base (bash .ci/setup does)");
  }
  const { child, exited, stop } = spawnSupervised(binary, [
    '--keep-in-foreground',
    `--conf-file=${configFile}`,
    '--log-facility=-',
  ]);
  writeFileSync(pidFile, `${child.pid ?? ''}\n`);
  const early: string[] = [];
  let stopping = false;
  const lines = createInterface({ input: child.stderr! });
  lines.on('line', (line) => {
    if (early.length < 50) early.push(line);
    onEvent(parseDnsmasqLine(line));
  });
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
      await stop();
    },
  };
}
