// Reading a switch and pushing its render, over any Host (SSH on a rack and in the lab): FRR's
// running configuration, and SONiC's config_db.json where the switch runs SONiC. Commands as data
// first (pushSteps), so the dry run and the tests see exactly what would run.
import { configDbApply, deviceOwnedLines, type LiveDevice, type SwitchPlatform } from '../diff/index.js';
import { UserError } from '../errors.js';
import { HostKeyChanged, type Host } from '../remote/index.js';
import type { SwitchTarget } from './targets.js';
import { pinnedSummary } from './targets.js';

/** SONiC keeps its startup configuration here; a plain FRR router has no /etc/sonic. */
export const SONIC_CONFIG_DB = '/etc/sonic/config_db.json';
const PLATFORM_PROBE = `if [ -f ${SONIC_CONFIG_DB} ] && command -v config >/dev/null 2>&1; then echo sonic; else echo frr; fi`;
export const FRR_RELOAD = '/usr/lib/frr/frr-reload.py';

/** Where each platform keeps frr.conf, and how frr-reload.py is run there. */
export function frrLayout(platform: SwitchPlatform): {
  readonly conf: string;
  readonly staged: string;
  readonly reload: (staged: string) => string[];
} {
  // SONiC in split routing-config mode (the render sets docker_routing_config_mode: split): its bgp
  // container runs FRR with the host's /etc/sonic/frr mounted on /etc/frr.
  if (platform === 'sonic')
    return {
      conf: '/etc/sonic/frr/frr.conf',
      staged: '/etc/sonic/frr/frr.conf.civostack',
      reload: () => [
        'docker',
        'exec',
        'bgp',
        FRR_RELOAD,
        '--reload',
        '--stdout',
        '/etc/frr/frr.conf.civostack',
      ],
    };
  return {
    conf: '/etc/frr/frr.conf',
    staged: '/etc/frr/frr.conf.civostack',
    reload: (staged) => [FRR_RELOAD, '--reload', '--stdout', staged],
  };
}

/** A HostKeyChanged from the remote layer, in a switch's words (its key is pinned, not reported by an installer). */
function explain(t: SwitchTarget, err: unknown): never {
  if (err instanceof HostKeyChanged)
    throw new UserError(
      `${t.name} (${err.address}) presented host key ${err.presented}, not the one pinned for it (${pinnedSummary(t)}): refusing to connect`,
      `if ${t.name} was reinstalled or re-keyed, record its new public host key in ${t.hostKeyFile}; otherwise something else answers at this address`,
    );
  if (err instanceof Error && /authentication methods failed/i.test(err.message))
    throw new UserError(
      `${t.name} (${t.address}:${t.port}) refused civostack's SSH key for ${t.user}`,
      `authorise the state folder's secrets/ssh/civostack_ed25519.pub for ${t.user} on ${t.name}, or set ssh.user in the manifest to a login that has it`,
    );
  throw err;
}

/** What the switch runs now. Reads only. */
export async function readDevice(
  host: Host,
  t: SwitchTarget,
  redact: readonly string[],
  signal?: AbortSignal,
): Promise<LiveDevice> {
  const common = { sudo: true, redact, ...(signal ? { signal } : {}) };
  try {
    const probe = await host.exec(['sh', '-c', PLATFORM_PROBE], common);
    const platform: SwitchPlatform = probe.stdout.trim() === 'sonic' ? 'sonic' : 'frr';
    const running = (await host.exec(['vtysh', '-c', 'show running-config'], common)).stdout;
    if (!/^router |^frr defaults |^hostname /m.test(running))
      throw new Error(
        `${t.name}: \`vtysh -c 'show running-config'\` printed no FRR configuration: is FRR running?`,
      );
    const configDb =
      platform === 'sonic' ? (await host.exec(['cat', SONIC_CONFIG_DB], common)).stdout : undefined;
    return { device: t.name, platform, running, ...(configDb !== undefined ? { configDb } : {}) };
  } catch (err) {
    return explain(t, err);
  }
}

export type PushStep =
  | { readonly kind: 'upload'; readonly path: string; readonly content: string; readonly mode: number }
  | { readonly kind: 'exec'; readonly argv: readonly string[] };

/**
 * What pushing a render to one switch runs, in order. SONiC first takes config_db.json (ports,
 * addresses, VLANs: what FRR's config refers to); then FRR gets the new frr.conf staged beside the
 * live one, applied by frr-reload.py (it computes the delta against the running configuration and
 * sends only that, so sessions whose settings did not change stay up), and only then moved into
 * place, so a failed reload leaves the startup file as it was. The device's own top-level lines
 * (DEVICE_OWNED) are carried over: a reload would otherwise remove them.
 */
export function pushSteps(
  live: LiveDevice,
  render: { readonly frr?: string; readonly configDb?: string },
): PushStep[] {
  const steps: PushStep[] = [];
  if (render.configDb !== undefined && live.platform === 'sonic') {
    const staged = `${SONIC_CONFIG_DB}.civostack`;
    const how = configDbApply(live.configDb ?? '', render.configDb);
    steps.push(
      { kind: 'upload', path: staged, content: render.configDb, mode: 0o600 },
      { kind: 'exec', argv: ['config', how, '-y', staged] },
      { kind: 'exec', argv: ['config', 'save', '-y'] },
      { kind: 'exec', argv: ['rm', '-f', staged] },
    );
  }
  if (render.frr !== undefined) {
    const layout = frrLayout(live.platform);
    const kept = deviceOwnedLines(live.running);
    const content = kept.length ? `${render.frr.replace(/\n*$/, '\n')}${kept.join('\n')}\n!\n` : render.frr;
    steps.push(
      { kind: 'upload', path: layout.staged, content, mode: 0o600 },
      { kind: 'exec', argv: layout.reload(layout.staged) },
      { kind: 'exec', argv: ['mv', '-f', layout.staged, layout.conf] },
    );
  }
  return steps;
}

export async function runPushSteps(
  host: Host,
  t: SwitchTarget,
  steps: readonly PushStep[],
  redact: readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  const common = { sudo: true, redact, ...(signal ? { signal } : {}) };
  try {
    for (const s of steps) {
      if (s.kind === 'upload') await host.upload(s.path, s.content, { ...common, mode: s.mode });
      else await host.exec(s.argv, common);
    }
  } catch (err) {
    explain(t, err);
  }
}

/** One line per step, for the plan of work and the dry run. */
export function describeSteps(steps: readonly PushStep[]): string {
  return steps.map((s) => (s.kind === 'upload' ? `upload ${s.path}` : s.argv.join(' '))).join('; ');
}
