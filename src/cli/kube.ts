// `civostack kube artifacts`: upstream Kubernetes for the kubeadm distribution, built (or found in the cache).
import { ExitCode } from '../errors.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { table } from './table.js';

export async function kubeArtifactsCommand(
  io: Io,
  flags: { cacheDir?: string; output: OutputFormat },
): Promise<number> {
  const { ensureKubeArtifacts } = await import('../kube/index.js');
  // Ctrl-C stops the build under way and removes its temp folder; nothing half-built stays in the cache.
  // `on`, not `once`: execa's exit hook re-raises a signal that no other listener is left to handle.
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(ExitCode.cancelled);
    io.err('stopping the build (again to stop at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const artifacts = await ensureKubeArtifacts({
      ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
      log: (line) => io.err(line),
      signal: controller.signal,
    });
    if (flags.output === 'json') printJson(io, artifacts);
    else {
      io.out(artifacts.dir);
      io.err(
        table(
          ['NAME', 'KIND', 'ROLES', 'SIZE', 'REF'],
          artifacts.files.map((f) => [
            f.name,
            f.kind,
            f.roles.join(','),
            `${(f.size / 1024 / 1024).toFixed(1)} MiB`,
            f.ref,
          ]),
        ),
      );
    }
    return ExitCode.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
