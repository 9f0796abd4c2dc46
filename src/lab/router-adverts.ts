// IPv6 router advertisements on the lab's provisioning bridge, as a rack's ToR sends them on its
// provisioning VLAN: radvd (Debian's package) inside the lab namespace. iPXE configures IPv6 beside
// DHCP on every NIC it brings up and waits until both are done: where no router answers its
// solicitations, that is about 15 s per boot (measured: the BIOS ROM's autoboot, then again on
// the reboot after the install). The advertisement says "no default router" (lifetime 0) and
// carries no prefix, so no node takes an IPv6 address or route from it; it only ends the wait.
// radvd runs in the namespace, so `lab down` stops it with every other process there.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { sleep } from '../boot/supervise.js';
import { writeFileAtomic } from '../state/atomic.js';
import type { StateDir } from '../state/index.js';
import { LabError, labPaths } from './lab.js';
import type { LabNetwork } from './netns.js';
import { readPid, vmRunning } from './qemu.js';

export const RADVD = '/usr/sbin/radvd';

export interface RouterAdvertPaths {
  readonly config: string;
  readonly pidfile: string;
  readonly log: string;
}

export function routerAdvertPaths(state: StateDir): RouterAdvertPaths {
  const { dir } = labPaths(state);
  return {
    config: join(dir, 'radvd.conf'),
    pidfile: join(dir, 'radvd.pid'),
    log: join(dir, 'radvd.log'),
  };
}

/** radvd's configuration: solicited answers at once (unicast, radvd's default), unsolicited ones rarely. */
export function radvdConfig(bridge: string): string {
  return `# civostack lab: router advertisements on the provisioning bridge (see src/lab/router-adverts.ts).
# Lifetime 0 and no prefix: nobody's default router, no address; iPXE's IPv6 set-up ends at once.
interface ${bridge}
{
\tAdvSendAdvert on;
\tAdvDefaultLifetime 0;
\tMinRtrAdvInterval 30;
\tMaxRtrAdvInterval 60;
};
`;
}

/** True when the radvd this lab started is running (a pid reused since is not taken for it). */
export function routerAdvertsRunning(state: StateDir): boolean {
  const paths = routerAdvertPaths(state);
  const pid = readPid(paths.pidfile);
  if (pid === undefined || !vmRunning(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(paths.config);
  } catch {
    return false;
  }
}

/** Starts radvd in the lab namespace unless it runs already. Idempotent. */
export async function ensureRouterAdverts(net: LabNetwork, state: StateDir): Promise<void> {
  if (routerAdvertsRunning(state)) return;
  if (!existsSync(RADVD))
    throw new LabError(
      `${RADVD} is missing: the lab sends IPv6 router advertisements with radvd`,
      'install it: apt-get install radvd (bash .ci/setup does)',
    );
  const paths = routerAdvertPaths(state);
  mkdirSync(labPaths(state).dir, { recursive: true });
  writeFileAtomic(paths.config, radvdConfig(net.bridge.name));
  // radvd advertises only where IPv6 forwarding is on: the namespace routes, as the ToR does.
  await execa('ip', ['netns', 'exec', net.namespace, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  // radvd forks into the background once its socket is set up; the daemon stays in the namespace.
  const r = await execa(
    'ip',
    [
      'netns',
      'exec',
      net.namespace,
      RADVD,
      '-C',
      paths.config,
      '-p',
      paths.pidfile,
      '-m',
      'logfile',
      '-l',
      paths.log,
    ],
    { reject: false },
  );
  for (let i = 0; i < 50 && !routerAdvertsRunning(state); i++) await sleep(100);
  if (!routerAdvertsRunning(state)) {
    const log = existsSync(paths.log)
      ? readFileSync(paths.log, 'utf8').split('\n').slice(-10).join('\n')
      : '';
    throw new LabError(
      `radvd did not start in ${net.namespace} (exit ${r.exitCode}): ${r.stderr || log || 'no output'}`,
    );
  }
}
