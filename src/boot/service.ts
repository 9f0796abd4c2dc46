// The boot service: the HTTP boot server and dnsmasq together, fed from one render, recording
// every node's progress in the state folder. Started by `pxe serve` and by the lab.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import type { Plan } from '../plan/index.js';
import type { FileTree } from '../render/index.js';
import { writeFileAtomic, type StateDir } from '../state/index.js';
import { startDnsmasq, type Dnsmasq, type DnsmasqEvent } from './dnsmasq.js';
import { NodeStore } from './node-store.js';
import { createBootServer, LISTEN_BACKLOG, type BootArtifacts, type BootEvent } from './server.js';

export type DhcpMode = 'authoritative' | 'proxy' | 'off';

export interface BootServiceOptions {
  readonly plan: Plan;
  /** Rendered with this service's runtime boot options (tftp root, lease file, proxy). */
  readonly tree: FileTree;
  readonly state: StateDir;
  readonly artifacts: BootArtifacts;
  readonly listen: { readonly host: string; readonly port: number };
  readonly dhcp: DhcpMode;
  readonly onEvent: (event: BootEvent | { kind: 'dnsmasq'; event: DnsmasqEvent }) => void;
}

export interface BootService {
  readonly url: string;
  readonly store: NodeStore;
  /** Resolves if dnsmasq dies on its own. */
  readonly dnsmasqExited: Promise<number> | undefined;
  close(): Promise<void>;
}

/** Where the service keeps its runtime files inside the state folder. */
export function bootRuntime(state: StateDir): {
  dir: string;
  tftpRoot: string;
  leaseFile: string;
  dnsmasqConf: string;
} {
  const dir = join(state.path, 'boot');
  // dnsmasq serves TFTP as an unprivileged user, who cannot enter the 0700 state folder; the
  // TFTP root only holds the public iPXE binaries, so it lives in a world-readable folder.
  const tag = createHash('sha256').update(state.path).digest('hex').slice(0, 12);
  return {
    dir,
    tftpRoot: join(tmpdir(), `civostack-tftp-${tag}`),
    leaseFile: join(dir, 'dnsmasq.leases'),
    dnsmasqConf: join(dir, 'dnsmasq.conf'),
  };
}

const PXE_DIR = fileURLToPath(new URL('../../pxe/', import.meta.url));

/** undionly.kpxe and ipxe.efi, from pxe/ (copied there from Debian's ipxe package) or the package itself. */
function stageTftp(tftpRoot: string): void {
  mkdirSync(tftpRoot, { recursive: true, mode: 0o755 });
  chmodSync(tftpRoot, 0o755);
  for (const name of ['undionly.kpxe', 'ipxe.efi']) {
    const source = [join(PXE_DIR, name), join('/usr/lib/ipxe', name)].find((p) => existsSync(p));
    if (!source)
      throw new UserError(
        `${name} not found in pxe/ or /usr/lib/ipxe`,
        "install Debian's ipxe package (bash .ci/setup does)",
      );
    copyFileSync(source, join(tftpRoot, name));
    chmodSync(join(tftpRoot, name), 0o644);
  }
}

export async function startBootService(o: BootServiceOptions): Promise<BootService> {
  const runtime = bootRuntime(o.state);
  const store = new NodeStore(o.state, o.plan.nodes);
  const server = createBootServer({
    plan: o.plan,
    tree: o.tree,
    store,
    artifacts: o.artifacts,
    checkSource: o.dhcp === 'authoritative',
    onEvent: o.onEvent,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL'
          ? new UserError(
              `cannot listen on ${o.listen.host}:${o.listen.port}: ${err.code}`,
              err.code === 'EADDRINUSE'
                ? 'another boot server is running: stop it first'
                : `no interface on this host has ${o.listen.host}`,
            )
          : err,
      ),
    );
    server.listen({ port: o.listen.port, host: o.listen.host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  let dnsmasq: Dnsmasq | undefined;
  if (o.dhcp !== 'off') {
    try {
      stageTftp(runtime.tftpRoot);
      const conf = o.tree.get('boot/dnsmasq.conf');
      if (!conf) throw new Error('internal: dnsmasq.conf not rendered');
      writeFileAtomic(runtime.dnsmasqConf, conf.content);
      const macToNode = new Map(o.plan.nodes.flatMap((n) => n.nics.map((nic) => [nic.mac, n.name] as const)));
      dnsmasq = await startDnsmasq(runtime.dnsmasqConf, (event) => {
        o.onEvent({ kind: 'dnsmasq', event });
        if (event.kind === 'ack') {
          const node = macToNode.get(event.mac);
          if (node) store.apply(node, { kind: 'dhcp', mac: event.mac, address: event.address });
        } else if (event.kind === 'ignored' && !macToNode.has(event.mac)) {
          store.sawUnknown(event.mac, 'dhcp');
          o.onEvent({ kind: 'unknown-mac', mac: event.mac, from: 'dhcp' });
        }
      });
    } catch (err) {
      server.close();
      rmSync(runtime.tftpRoot, { recursive: true, force: true });
      throw err;
    }
  }
  return {
    url: `http://${o.listen.host}:${port}`,
    store,
    dnsmasqExited: dnsmasq?.exited,
    async close() {
      await dnsmasq?.stop();
      // The TFTP root is a copy of public files outside the state folder: nothing to keep.
      if (dnsmasq) rmSync(runtime.tftpRoot, { recursive: true, force: true });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
