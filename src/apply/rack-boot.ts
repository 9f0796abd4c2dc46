// The boot service of a real rack: what `pxe serve` runs (src/boot/service.ts), in this process,
// on the bootstrap address, for as long as region up runs. If dnsmasq dies it is started again.
import {
  bootProgress,
  bootRuntime,
  customArtifacts,
  startBootService,
  type BootService,
} from '../boot/index.js';
import { prepare } from '../pipeline.js';
import {
  committedRegion,
  type BootServiceProvider,
  type RegionContext,
  type RunningBootService,
} from './context.js';

export function rackBootService(o: { readonly cacheDir?: string } = {}): BootServiceProvider {
  const describe = (ctx: RegionContext) => {
    const { bootstrap } = ctx.prepared().plan;
    return `boot server on http://${bootstrap.address}:${bootstrap.httpPort} with dnsmasq (DHCP authoritative, TFTP)`;
  };
  return {
    describe,
    running: () => Promise.resolve(false),
    async start(ctx: RegionContext): Promise<RunningBootService> {
      const p = committedRegion(ctx);
      const runtime = bootRuntime(p.state);
      // The same render with the service's runtime paths (TFTP root, lease file), as `pxe serve`.
      const served = prepare({
        region: p.region,
        manifestDir: p.manifestDir,
        state: p.state,
        boot: { tftpRoot: runtime.tftpRoot, leaseFile: runtime.leaseFile, dnsPort: 53, proxy: false },
      });
      const artifacts =
        p.plan.os.profile === 'lab-debian'
          ? await (
              await import('../lab/artifacts.js')
            ).labArtifacts(p.plan, o.cacheDir, (line) =>
              ctx.emit({ kind: 'log', code: 'log', phase: 'boot-service', message: line }),
            )
          : customArtifacts(p.plan, p.manifestDir);
      const launch = () =>
        startBootService({
          plan: p.plan,
          tree: served.tree,
          state: p.state,
          artifacts,
          listen: { host: p.plan.bootstrap.address, port: p.plan.bootstrap.httpPort },
          dhcp: 'authoritative',
          onEvent: (e) => {
            const ev = bootProgress(e);
            if (ev) ctx.emit(ev);
          },
        });
      let service: BootService = await launch();
      let exited = false;
      const watch = (s: BootService) => void s.dnsmasqExited?.then(() => (exited = true));
      watch(service);
      ctx.emit({ kind: 'log', code: 'log', phase: 'boot-service', message: describe(ctx) });
      return {
        async ensureRunning(c) {
          if (!exited) return;
          c.emit({
            kind: 'warning',
            code: 'boot.restarted',
            message: 'dnsmasq is not running: starting it again',
          });
          await service.close();
          exited = false;
          service = await launch();
          watch(service);
        },
        stop: () => service.close(),
      };
    },
  };
}
