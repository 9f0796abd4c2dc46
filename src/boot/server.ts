// The boot server: per-MAC iPXE scripts, installer and OS image, per-node cloud-init seeds, switch
// ZTP files, and the phone-home API installers report to. Every per-node answer goes only to that
// node's MACs (and, where DHCP reserved an address, to requests from that address).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { macHyphen, parseMac, type ImageFormat, type Mac } from '../manifest/index.js';
import type { NodePlan, Plan } from '../plan/index.js';
import type { FileTree } from '../render/index.js';
import { sendFile } from './http-file.js';
import { describeState, isInstalled, type NodeState } from './node-state.js';
import type { NodeStore } from './node-store.js';

export interface ImageArtifact {
  /** Local file served at /images/<basename>; absent when the manifest gives a URL. */
  readonly path?: string;
  /** What the installer downloads: our /images URL or the manifest's. */
  readonly url: string;
  readonly sha256: string;
  readonly format: ImageFormat;
  /** Uncompressed size in bytes, for progress; 0 when unknown. */
  readonly size: number;
  readonly rootPartition: number;
}

export interface BootArtifacts {
  readonly kernel?: string;
  readonly initrd?: string;
  readonly image?: ImageArtifact;
}

export type BootEvent =
  | { readonly kind: 'node'; readonly node: string; readonly state: NodeState; readonly text: string }
  | {
      readonly kind: 'refused';
      readonly status: number;
      readonly method: string;
      readonly path: string;
      readonly from: string;
      readonly reason: string;
    }
  | { readonly kind: 'unknown-mac'; readonly mac: string; readonly from: string }
  | { readonly kind: 'served'; readonly path: string; readonly from: string };

/**
 * Accept queue of the boot server's socket. A rack powering on at once opens hundreds of connections
 * in the same second; Node's default (511) overflowed under 1,000, and each dropped handshake costs
 * the client a SYN-ACK retransmission (1 s, then 2 s, 4 s…). The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

export interface BootServerOptions {
  readonly plan: Plan;
  readonly tree: FileTree;
  readonly store: NodeStore;
  readonly artifacts: BootArtifacts;
  /** Check that per-node requests come from the node's reserved address (off in proxy-DHCP mode). */
  readonly checkSource: boolean;
  /**
   * Also answer per-node requests from 127.0.0.1, whatever the reservation. Only for a server that
   * listens on loopback alone and is loaded by a local generator (bench/boot.bench.mjs); never for
   * `pxe serve`, where it would hand every node's seed to any process on the bootstrap host.
   */
  readonly trustLoopback?: boolean;
  /**
   * Behind the nginx front (on loopback): a request carrying this token in X-Civostack-Front comes
   * from nginx, and its X-Real-IP is the client's address. Without the token, X-Real-IP is ignored:
   * a local process cannot pass for a node by setting it.
   */
  readonly frontToken?: string;
  readonly onEvent: (event: BootEvent) => void;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const SEGMENT = /^[a-z0-9][a-z0-9._-]*$/;
const MAX_BODY = 64 * 1024;

export function createBootServer(o: BootServerOptions): Server {
  const nodesByMac = new Map<string, NodePlan>();
  const nodesByName = new Map(o.plan.nodes.map((n) => [n.name, n]));
  for (const n of o.plan.nodes) for (const nic of n.nics) nodesByMac.set(nic.mac, n);
  const switchAddress = new Map(
    o.plan.dhcp.filter((d) => d.kind === 'switch').map((d) => [d.host, d.address]),
  );

  const file = (path: string): string => {
    const f = o.tree.get(path);
    if (!f) throw new Refusal(404, `${path} is not rendered`);
    return f.content;
  };
  const emitState = (node: string, state: NodeState) =>
    o.onEvent({ kind: 'node', node, state, text: describeState(state) });

  const checkFrom = (from: string, expected: string | undefined, who: string): void => {
    const trusted = o.trustLoopback === true && from === '127.0.0.1';
    if (o.checkSource && expected !== undefined && from !== expected && !trusted) {
      throw new Refusal(403, `${who} is reserved for ${expected}, not ${from}`);
    }
  };

  /** The node a per-node request is for, checked against its ?mac= and source address. */
  const authorise = (name: string, url: URL, from: string): { node: NodePlan; mac: Mac } => {
    const node = nodesByName.get(name);
    if (!node) throw new Refusal(404, `no node ${name} in the manifest`);
    const mac = parseMac(url.searchParams.get('mac') ?? '');
    if (!mac || !node.nics.some((n) => n.mac === mac))
      throw new Refusal(403, `${name} is not served to MAC ${url.searchParams.get('mac') ?? '(none)'}`);
    checkFrom(from, node.provisioning.address, name);
    return { node, mac };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, from: string): Promise<void> => {
    const raw = req.url ?? '/';
    // Refuse anything that could escape a folder or hide a path from these checks.
    if (raw.includes('..') || raw.includes('//') || raw.includes('\\') || /%2e|%2f|%5c|%00/i.test(raw)) {
      throw new Refusal(400, 'malformed path');
    }
    const url = new URL(raw, 'http://boot.invalid');
    const parts = url.pathname.split('/').slice(1);
    if (parts.some((p) => !SEGMENT.test(p))) throw new Refusal(400, 'malformed path');
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    const text = (body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      });
      res.end(method === 'HEAD' ? undefined : body);
    };

    const [top, a, b, c] = parts;
    if (top === 'ipxe' && get && parts.length === 2 && a === 'boot.ipxe')
      return text(file('boot/ipxe/boot.ipxe'));
    if (
      top === 'ipxe' &&
      get &&
      parts.length === 2 &&
      a !== undefined &&
      /^[0-9a-f]{2}(-[0-9a-f]{2}){5}\.ipxe$/.test(a)
    ) {
      const mac = a.slice(0, -'.ipxe'.length).replaceAll('-', ':') as Mac;
      const node = nodesByMac.get(mac);
      if (!node) {
        o.store.sawUnknown(mac, 'http', from);
        o.onEvent({ kind: 'unknown-mac', mac, from });
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end(`#!ipxe\necho civostack: MAC ${mac} is not in the manifest; run civostack pxe unknown\n`);
        return;
      }
      checkFrom(from, node.provisioning.address, node.name);
      const installed = isInstalled(o.store.get(node.name));
      emitState(node.name, o.store.apply(node.name, { kind: 'ipxe', mac, address: from }));
      return text(installed ? file('boot/ipxe/local.ipxe') : file(`boot/ipxe/${macHyphen(mac)}.ipxe`));
    }
    if (top === 'installer' && get && parts.length === 2) {
      const path = a === 'vmlinuz' ? o.artifacts.kernel : a === 'initrd.img' ? o.artifacts.initrd : undefined;
      if (!path) throw new Refusal(404, `no installer file ${a ?? ''}`);
      return sendFile(req, res, path, 'application/octet-stream');
    }
    if (top === 'images' && get && parts.length === 2) {
      const image = o.artifacts.image;
      if (!image?.path || basename(image.path) !== a) throw new Refusal(404, `no image ${a ?? ''}`);
      return sendFile(req, res, image.path, 'application/octet-stream');
    }
    if (top === 'nodes' && a !== undefined) {
      const { node, mac } = authorise(a, url, from);
      const q = `?mac=${mac}`;
      if (get && b === 'install.env' && parts.length === 3) return text(installEnv(o, node, q));
      if (
        get &&
        b === 'seed' &&
        parts.length === 4 &&
        (c === 'meta-data' || c === 'user-data' || c === 'network-config')
      ) {
        return text(file(`nodes/${node.name}/cloud-init/${c}`));
      }
      if (method === 'POST' && b === 'progress' && parts.length === 3) {
        const form = new URLSearchParams(await readBody(req));
        const state = form.get('state');
        if (state !== 'installing' && state !== 'installed' && state !== 'failed')
          throw new Refusal(400, 'state must be installing, installed or failed');
        const percent = form.get('percent');
        const message = form.get('message') ?? undefined;
        emitState(
          node.name,
          o.store.apply(node.name, {
            kind: 'progress',
            state,
            ...(percent !== null ? { percent: Number(percent) } : {}),
            ...(message ? { message: message.slice(0, 500) } : {}),
          }),
        );
        return text('ok\n');
      }
      if (method === 'POST' && b === 'hostkeys' && parts.length === 3) {
        const keys = (await readBody(req))
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$/.test(l));
        if (keys.length === 0) throw new Refusal(400, 'no OpenSSH public keys in the body');
        emitState(node.name, o.store.apply(node.name, { kind: 'hostkeys', keys }));
        return text('ok\n');
      }
    }
    if (
      top === 'ztp' &&
      get &&
      parts.length === 3 &&
      a !== undefined &&
      (b === 'ztp.json' || b === 'config_db.json')
    ) {
      if (!switchAddress.has(a)) throw new Refusal(404, `no switch ${a}`);
      checkFrom(from, switchAddress.get(a), a);
      return text(file(`switches/${a}/${b}`), 'application/json');
    }
    if (top === 'api' && a === 'v1' && b === 'nodes' && get && parts.length === 3) {
      return text(`${JSON.stringify(o.store.all(), null, 2)}\n`, 'application/json');
    }
    throw new Refusal(404, 'not found');
  };

  return createServer((req, res) => {
    const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const forwarded = req.headers['x-real-ip'];
    const fromFront =
      o.frontToken !== undefined && peer === '127.0.0.1' && req.headers['x-civostack-front'] === o.frontToken;
    const from = fromFront && typeof forwarded === 'string' && forwarded !== '' ? forwarded : peer;
    handle(req, res, from).catch((err: unknown) => {
      const status = err instanceof Refusal ? err.status : 500;
      const reason = err instanceof Error ? err.message : String(err);
      o.onEvent({
        kind: 'refused',
        status,
        method: req.method ?? '?',
        path: (req.url ?? '').slice(0, 200),
        from,
        reason,
      });
      if (!res.headersSent) {
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`${status === 500 ? 'internal error' : reason}\n`);
      } else {
        res.destroy();
      }
    });
  });
}

/**
 * Records a per-MAC script the nginx front answered (from its log), as the server records one it
 * answers itself: a node's fetch moves its state, an unknown MAC is listed, a refusal is reported.
 */
export function ipxeRecorder(o: Pick<BootServerOptions, 'plan' | 'store' | 'onEvent'>) {
  const nodesByMac = new Map<string, NodePlan>();
  for (const n of o.plan.nodes) for (const nic of n.nics) nodesByMac.set(nic.mac, n);
  return (f: { from: string; status: number; path: string }): void => {
    const m = /^\/ipxe\/([0-9a-f]{2}(?:-[0-9a-f]{2}){5})\.ipxe$/.exec(f.path);
    if (!m) return;
    const mac = m[1]!.replaceAll('-', ':') as Mac;
    const node = nodesByMac.get(mac);
    if (node && f.status === 200) {
      const state = o.store.apply(node.name, { kind: 'ipxe', mac, address: f.from });
      o.onEvent({ kind: 'node', node: node.name, state, text: describeState(state) });
    } else if (!node && f.status === 404) {
      o.store.sawUnknown(mac, 'http', f.from);
      o.onEvent({ kind: 'unknown-mac', mac, from: f.from });
    } else if (node && f.status === 403) {
      o.onEvent({
        kind: 'refused',
        status: 403,
        method: 'GET',
        path: f.path,
        from: f.from,
        reason: `${node.name} is reserved for ${node.provisioning.address}, not ${f.from}`,
      });
    }
  };
}

function installEnv(o: BootServerOptions, node: NodePlan, q: string): string {
  const image = o.artifacts.image;
  if (!image) throw new Refusal(503, 'no OS image is configured on this boot server');
  const lines: Record<string, string | number> = {
    NODE: node.name,
    DISK: node.disk,
    IMAGE_URL: image.url,
    IMAGE_SHA256: image.sha256,
    IMAGE_FORMAT: image.format,
    IMAGE_SIZE: image.size,
    ROOT_PARTITION: image.rootPartition,
    SEED_URL: `${o.plan.bootstrap.url}/nodes/${node.name}/seed`,
    MAC_QUERY: q,
  };
  // Values are shell-quoted: the installer sources this file.
  return `${Object.entries(lines)
    .map(([k, v]) => `${k}='${String(v).replaceAll("'", "'\\''")}'`)
    .join('\n')}\n`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Refusal(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
