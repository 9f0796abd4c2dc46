// The boot service: the HTTP boot server and dnsmasq together, fed from one render, recording
// every node's progress in the state folder. Started by `pxe serve` and by the lab.
//
// HTTP is two processes: nginx holds the boot port and answers what is a file (the image, the
// installer, the per-MAC iPXE scripts, each only to its node's reserved address) with sendfile,
// and passes the rest (seeds, install.env, progress, host keys, ZTP, API) to the Node server on
// loopback. Node copying multi-GB images through user space cost 4-10x nginx's CPU per GB, and a
// rack powering on at once (1,000 script fetches back to back) waited seconds on its event loop.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import type { Plan } from '../plan/index.js';
import type { FileTree } from '../render/index.js';
import { writeFileAtomic, type StateDir } from '../state/index.js';
import { startDnsmasq, type Dnsmasq, type DnsmasqEvent } from './dnsmasq.js';
import { tailIpxeLog } from './ipxe-log.js';
import { nginxConf, nginxPaths, startNginx, type Nginx, type NginxSite } from './nginx.js';
import { NodeStore } from './node-store.js';
import { nodeScriptFor } from './boot-core.js';
import { InstallTokens, installTokensFile } from './install-tokens.js';
import { publishBootFiles } from './published.js';
import { createServedFolder } from './served-folder.js';
import {
  createBootServer,
  ipxeRecorder,
  LISTEN_BACKLOG,
  type BootArtifacts,
  type BootEvent,
} from './server.js';

export type DhcpMode = 'authoritative' | 'proxy' | 'off';

export interface BootServiceOptions {
  readonly plan: Plan;
  /** Rendered with this service's runtime boot options (tftp root, lease file, proxy). */
  readonly tree: FileTree;
  readonly state: StateDir;
  readonly artifacts: BootArtifacts;
  readonly listen: { readonly host: string; readonly port: number };
  readonly dhcp: DhcpMode;
  /** Per-node answers only to the node's reserved address; default: when DHCP is authoritative. */
  readonly checkSource?: boolean;
  /** Per-node answers to 127.0.0.1 too: only for a local load generator (bench/boot.bench.mjs). */
  readonly trustLoopback?: boolean;
  readonly onEvent: (event: BootEvent | { kind: 'dnsmasq'; event: DnsmasqEvent }) => void;
}

export interface BootService {
  readonly url: string;
  readonly store: NodeStore;
  /** Resolves if dnsmasq dies on its own. */
  readonly dnsmasqExited: Promise<number> | undefined;
  /** Resolves if nginx dies on its own. */
  readonly nginxExited: Promise<number>;
  /** Process ids of the service's helpers (nginx's master), for whoever must account for them. */
  readonly pids: { readonly nginx: number };
  close(): Promise<void>;
}

/** Where the service keeps its runtime files inside the state folder. */
export function bootRuntime(state: StateDir): {
  dir: string;
  tftpRoot: string;
  httpRoot: string;
  leaseFile: string;
  dnsmasqConf: string;
  apiToken: string;
} {
  const dir = join(state.path, 'boot');
  // dnsmasq serves TFTP as an unprivileged user, who cannot enter the 0700 state folder; the
  // TFTP root only holds the public iPXE binaries, so it lives in a world-readable folder. Both
  // folders are made anew by each start and refused when another user got to the name first.
  const tag = createHash('sha256').update(state.path).digest('hex').slice(0, 12);
  return {
    dir,
    tftpRoot: join(tmpdir(), `civostack-tftp-${tag}`),
    // Likewise nginx's workers (unprivileged) read the public boot files from outside it.
    httpRoot: join(tmpdir(), `civostack-http-${tag}`),
    leaseFile: join(dir, 'dnsmasq.leases'),
    dnsmasqConf: join(dir, 'dnsmasq.conf'),
    /** `Authorization: Bearer <this file>` opens /api/v1/nodes; 0600, new at every start. */
    apiToken: join(dir, 'api.token'),
  };
}

const PXE_DIR = fileURLToPath(new URL('../../pxe/', import.meta.url));

/** undionly.kpxe and ipxe.efi, from pxe/ (copied there from Debian's ipxe package) or the package itself. */
function stageTftp(tftpRoot: string): void {
  const sources = ['undionly.kpxe', 'ipxe.efi'].map((name) => {
    const source = [join(PXE_DIR, name), join('/usr/lib/ipxe', name)].find((p) => existsSync(p));
    if (!source)
      throw new UserError(
        `${name} not found in pxe/ or /usr/lib/ipxe`,
        "install Debian's ipxe package (bash .ci/setup does)",
      );
    return { name, source };
  });
  createServedFolder(tftpRoot, { mode: 0o755 });
  for (const { name, source } of sources) {
    copyFileSync(source, join(tftpRoot, name));
    chmodSync(join(tftpRoot, name), 0o644);
  }
}

/**
 * nginx's workers' user and its primary group (the group the published folder is readable by):
 * Debian's nginx package creates www-data. Unset unless we are root.
 */
function workerUser(): { name: string; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const users = readFileSync('/etc/passwd', 'utf8');
  for (const name of ['www-data', 'nobody']) {
    const m = new RegExp(`^${name}:[^:]*:\\d+:(\\d+):`, 'm').exec(users);
    if (m) return { name, gid: Number(m[1]) };
  }
  return { name: 'nobody', gid: 65534 };
}

/** A free port on `host`, for a --port 0 (tests, benchmarks). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function startBootService(o: BootServiceOptions): Promise<BootService> {
  const runtime = bootRuntime(o.state);
  const store = new NodeStore(o.state, o.plan.nodes);
  mkdirSync(runtime.dir, { recursive: true, mode: 0o700 });
  const user = workerUser();
  const tokens = new InstallTokens(installTokensFile(o.state));
  // Minted at every start, 0600: whoever reads the node API must be able to read the state folder.
  const apiToken = randomBytes(16).toString('hex');
  writeFileAtomic(runtime.apiToken, `${apiToken}\n`, 0o600);
  const published = publishBootFiles(
    runtime.httpRoot,
    o.plan,
    o.tree,
    o.artifacts,
    (n) => store.get(n),
    (node, mac, state) => nodeScriptFor(o.tree, tokens, node, mac, state),
    { mode: 0o750, ...(user ? { gid: user.gid } : {}) },
  );
  // A node's script changes with its state (the installer until installed, then local boot).
  const onEvent: BootServiceOptions['onEvent'] = (e) => {
    if (e.kind === 'node') published.refresh(e.node, e.state);
    o.onEvent(e);
  };
  const checkSource = o.checkSource ?? o.dhcp === 'authoritative';
  // Only nginx knows it (its config is 0600): what proves a request's X-Real-IP is nginx's.
  const frontToken = randomBytes(16).toString('hex');
  const server = createBootServer({
    plan: o.plan,
    tree: o.tree,
    store,
    artifacts: o.artifacts,
    checkSource,
    ...(o.trustLoopback ? { trustLoopback: true } : {}),
    tokens,
    apiToken,
    frontToken,
    onEvent,
  });
  const stopServer = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const upstream = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  const port = o.listen.port === 0 ? await freePort(o.listen.host) : o.listen.port;
  const site: NginxSite = {
    listen: { host: o.listen.host, port },
    runtimeDir: runtime.dir,
    root: runtime.httpRoot,
    upstream,
    frontToken,
    trustLoopback: o.trustLoopback === true,
    ...(user ? { user: user.name } : {}),
    scripts: published.scripts.map((s) => ({
      file: s.file,
      address: checkSource ? s.node.provisioning.address : undefined,
    })),
  };
  const paths = nginxPaths(runtime.dir);
  mkdirSync(paths.temp, { recursive: true, mode: 0o700 });
  writeFileAtomic(paths.conf, nginxConf(site), 0o600);
  let nginx: Nginx;
  try {
    nginx = await startNginx(paths.conf, site);
  } catch (err) {
    await stopServer();
    rmSync(runtime.httpRoot, { recursive: true, force: true });
    throw err;
  }
  const log = tailIpxeLog(
    paths.ipxeLog,
    () => nginx.reopenLogs(),
    ipxeRecorder({ plan: o.plan, store, onEvent }),
  );

  let dnsmasq: Dnsmasq | undefined;
  if (o.dhcp !== 'off') {
    let staged = false;
    try {
      stageTftp(runtime.tftpRoot);
      staged = true;
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
      log.close();
      await nginx.stop();
      await stopServer();
      // Only what this start made: a folder refused as another user's stays for them to look at.
      if (staged) rmSync(runtime.tftpRoot, { recursive: true, force: true });
      rmSync(runtime.httpRoot, { recursive: true, force: true });
      throw err;
    }
  }
  return {
    url: `http://${o.listen.host}:${port}`,
    store,
    dnsmasqExited: dnsmasq?.exited,
    nginxExited: nginx.exited,
    pids: { nginx: nginx.pid },
    async close() {
      await dnsmasq?.stop();
      // The TFTP root is a copy of public files outside the state folder: nothing to keep.
      if (dnsmasq) rmSync(runtime.tftpRoot, { recursive: true, force: true });
      await nginx.stop();
      log.close();
      rmSync(runtime.httpRoot, { recursive: true, force: true });
      await stopServer();
    },
  };
}
