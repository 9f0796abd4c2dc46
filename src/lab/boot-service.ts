// The lab's boot service: `pxe serve` run inside the lab's network namespace (ensureBootServer),
// supervised by region up: started again if it dies, stopped when the run ends.
import type { BootServiceProvider, RunningBootService } from '../apply/context.js';
import type { Plan } from '../plan/index.js';
import type { StateDir } from '../state/index.js';
import { ensureBootServer, labPaths } from './lab.js';
import type { LabNetwork } from './netns.js';
import { processRunning, readPid, stopProcess } from './process.js';

export function labBootService(o: {
  readonly manifest: string;
  readonly plan: Plan;
  readonly state: StateDir;
  readonly net: LabNetwork;
  readonly cacheDir?: string;
}): BootServiceProvider {
  const paths = labPaths(o.state);
  const pid = () => {
    const p = readPid(paths.bootPid);
    return p !== undefined && processRunning(p) ? p : undefined;
  };
  const server = { manifest: o.manifest, state: o.state, ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}) };
  return {
    describe: () =>
      `boot server and dnsmasq (pxe serve in network namespace ${o.net.namespace}, on ${o.plan.bootstrap.url})`,
    running: () => Promise.resolve(pid() !== undefined),
    async start(): Promise<RunningBootService> {
      await ensureBootServer(server, o.net, paths);
      return {
        async ensureRunning(ctx) {
          if (pid() !== undefined) return;
          ctx.emit({
            kind: 'warning',
            code: 'boot.restarted',
            message: 'boot server is not running: starting it again',
          });
          await ensureBootServer(server, o.net, paths);
        },
        async stop() {
          const p = pid();
          if (p !== undefined) await stopProcess(p, 10_000, 'boot server');
        },
      };
    },
  };
}
