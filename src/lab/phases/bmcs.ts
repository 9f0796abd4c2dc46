// The lab's BMCs: one real emulator per node on the lab's OOB link (ipmi_sim for IPMI nodes,
// sushy-tools for Redfish ones), each powering its node's QEMU machine through `civostack lab vm`.
// The power phases then reach them with the same drivers as a real rack's BMCs. The accelerator
// the machines run under is chosen here, once per boot of the host (src/lab/accel.ts); a machine
// that falls back to TCG later (its BMC hook, its console watchdog) records it in the same place.
import { chooseAccel, type AccelChoice } from '../accel.js';
import { ensureBmcEmulators } from '../bmc-emulators.js';
import { DEFAULT_CACHE_DIR, labArtifacts } from '../artifacts.js';
import { labNet } from '../lab.js';
import type { RegionContext } from '../../apply/context.js';
import type { Phase } from '../../apply/phase.js';

export function labBmcsPhase(o: {
  readonly cacheDir?: string;
  readonly accel: AccelChoice;
  readonly manifestDir: string;
}): Phase<RegionContext, { nodes: readonly string[] }> {
  return {
    id: 'lab-bmcs',
    title: 'Lab BMC emulators (ipmi_sim, sushy-tools)',
    observe: (ctx) =>
      Promise.resolve({
        nodes: ctx
          .prepared()
          .plan.nodes.filter((n) => n.bmc?.access)
          .map((n) => `${n.name} (${n.bmc!.access!.protocol})`),
      }),
    // Always ensured: starting one that runs is a no-op, and one a killed run left dead is restarted.
    shouldRun: (f) => f.nodes.length > 0,
    skipReason: () => 'no lab node has BMC access in the manifest',
    actions: (f) => f.nodes.map((n) => ({ target: n, text: 'BMC emulator on the lab OOB link' })),
    async run(ctx) {
      const plan = ctx.prepared().plan;
      const log = (message: string) =>
        ctx.emit({ kind: 'log', code: 'lab.step', phase: 'lab-bmcs', message });
      const artifacts = await labArtifacts(plan, o.cacheDir, () => {});
      const cacheDir = o.cacheDir ?? DEFAULT_CACHE_DIR;
      const probe = {
        kernel: artifacts.kernel ?? '',
        initrd: artifacts.initrd ?? '',
        firmwares: [...new Set(plan.nodes.map((n) => n.firmware))],
      };
      const verdict = await chooseAccel(o.accel, cacheDir, probe);
      log(
        `virtual machines: ${verdict.accel === 'kvm' ? 'KVM' : 'software emulation (TCG)'}: ${verdict.reason}` +
          (verdict.cached ? ' (probed earlier since this host booted)' : ''),
      );
      const net = await labNet(plan);
      const emulators = await ensureBmcEmulators(plan, ctx.state, net, {
        manifestDir: o.manifestDir,
        accel: verdict.accel,
        verdict: { cacheDir, probe },
        onEvent: log,
      });
      for (const e of emulators) log(`${e.node}: ${e.protocol} BMC at ${e.address}:${e.port}`);
    },
  };
}
