// The boot server's decisions, with no HTTP in them: which node or switch a request is for, whether
// the asker may have the answer, and how it moves the node's state in the store. The handlers
// (boot-routes.ts) only turn a request into one call here and the answer into a response, as
// matchbox's server.go selects and its http/ handlers write.
import { createHash, timingSafeEqual } from 'node:crypto';
import { basename } from 'node:path';
import { macHyphen, parseMac, type ImageFormat, type Mac } from '../manifest/index.js';
import type { NodePlan, Plan } from '../plan/index.js';
import { INSTALL_TOKEN_SLOT, type FileTree } from '../render/index.js';
import type { InstallTokens } from './install-tokens.js';
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

/** A text answer the server chose, refusals with a script body included (an unknown MAC's 404). */
export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly type: string;
}

/** A file to stream (the installer, the image). */
export interface FileReply {
  readonly file: string;
}

/** No answer: the status and why, for the asker and the `refused` event. */
export interface Refused {
  readonly refused: true;
  readonly status: number;
  readonly reason: string;
}

export type Answer<T = Reply> = T | Refused;

export const isRefused = (a: Answer<unknown>): a is Refused =>
  typeof a === 'object' && a !== null && (a as Partial<Refused>).refused === true;

export const refuse = (status: number, reason: string): Refused => ({ refused: true, status, reason });

/** Who asks for a node's content: the `?mac=` it gives, the address it comes from, its install token. */
export interface Asker {
  readonly mac: string | null;
  readonly from: string;
  readonly token: string | undefined;
}

/** What the installer reports with POST /nodes/<name>/progress. */
export interface ProgressReport {
  readonly state: string | null;
  readonly percent: string | null;
  readonly message: string | null;
}

export interface BootCoreOptions {
  readonly plan: Plan;
  readonly tree: FileTree;
  readonly store: NodeStore;
  readonly artifacts: BootArtifacts;
  /** Check that per-node requests come from the node's reserved address (off in proxy-DHCP mode). */
  readonly checkSource: boolean;
  /** Also answer per-node requests from 127.0.0.1 (a loopback-only load generator's server). */
  readonly trustLoopback?: boolean;
  /** Each install's token: minted into the node's script, required for its seed, progress and keys. */
  readonly tokens: InstallTokens;
  /** What /api/v1/nodes wants as `Authorization: Bearer <token>` (the state folder's api.token). */
  readonly apiToken: string;
  readonly onEvent: (event: BootEvent) => void;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';
const SEED_FILES = new Set(['meta-data', 'user-data', 'network-config']);
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$/;

export type BootCore = ReturnType<typeof createBootCore>;

/**
 * The script a node's MAC boots: until the node is installed its installer script, carrying the
 * install's token (minted now if it has none); then the local disk's.
 */
export function nodeScriptFor(
  tree: FileTree,
  tokens: InstallTokens,
  node: NodePlan,
  mac: Mac,
  state: NodeState | undefined,
): string | undefined {
  if (isInstalled(state)) return tree.get('boot/ipxe/local.ipxe')?.content;
  const script = tree.get(`boot/ipxe/${macHyphen(mac)}.ipxe`)?.content;
  return script?.replaceAll(INSTALL_TOKEN_SLOT, tokens.forInstall(node.name));
}

/** Equal in constant time (the API token). */
function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export function createBootCore(o: BootCoreOptions) {
  const nodesByMac = new Map<string, NodePlan>();
  const nodesByName = new Map(o.plan.nodes.map((n) => [n.name, n]));
  for (const n of o.plan.nodes) for (const nic of n.nics) nodesByMac.set(nic.mac, n);
  const switchAddress = new Map(
    o.plan.dhcp.filter((d) => d.kind === 'switch').map((d) => [d.host, d.address]),
  );

  const rendered = (path: string, type = TEXT): Answer => {
    const f = o.tree.get(path);
    return f ? { status: 200, body: f.content, type } : refuse(404, `${path} is not rendered`);
  };
  const ok = (body: string, type = TEXT): Reply => ({ status: 200, body, type });
  const move = (node: string, event: Parameters<NodeStore['apply']>[1]): NodeState => {
    const state = o.store.apply(node, event);
    o.onEvent({ kind: 'node', node, state, text: describeState(state) });
    return state;
  };

  /** Refused when source checks are on and `from` is not the address reserved for `who`. */
  const fromReserved = (from: string, expected: string | undefined, who: string): Refused | undefined => {
    const trusted = o.trustLoopback === true && from === '127.0.0.1';
    if (o.checkSource && expected !== undefined && from !== expected && !trusted)
      return refuse(403, `${who} is reserved for ${expected}, not ${from}`);
    return undefined;
  };

  /** The node a per-node request is for, checked against its ?mac=, source address and install token. */
  const nodeFor = (name: string, asker: Asker): Answer<{ node: NodePlan; mac: Mac }> => {
    const node = nodesByName.get(name);
    if (!node) return refuse(404, `no node ${name} in the manifest`);
    const mac = parseMac(asker.mac ?? '');
    if (!mac || !node.nics.some((n) => n.mac === mac))
      return refuse(403, `${name} is not served to MAC ${asker.mac ?? '(none)'}`);
    const wrongSource = fromReserved(asker.from, node.provisioning.address, name);
    if (wrongSource) return wrongSource;
    if (!o.tokens.matches(node.name, asker.token))
      return refuse(
        403,
        `${name} is served only to its installer with this install's token (X-Civostack-Token); ` +
          `none, a wrong or a spent one came from ${asker.from}`,
      );
    return { node, mac };
  };

  return {
    bootScript: (): Answer => rendered('boot/ipxe/boot.ipxe'),

    /** A MAC's script: the installer's until the node is installed, then the local disk's. */
    nodeScript(mac: Mac, from: string): Answer {
      const node = nodesByMac.get(mac);
      if (!node) {
        o.store.sawUnknown(mac, 'http', from);
        o.onEvent({ kind: 'unknown-mac', mac, from });
        return {
          status: 404,
          body: `#!ipxe\necho civostack: MAC ${mac} is not in the manifest; run civostack pxe unknown\n`,
          type: 'text/plain',
        };
      }
      const wrongSource = fromReserved(from, node.provisioning.address, node.name);
      if (wrongSource) return wrongSource;
      const script = nodeScriptFor(o.tree, o.tokens, node, mac, o.store.get(node.name));
      move(node.name, { kind: 'ipxe', mac, address: from });
      return script === undefined ? refuse(404, `the script of ${mac} is not rendered`) : ok(script);
    },

    installerFile(name: string): Answer<FileReply> {
      const file =
        name === 'vmlinuz' ? o.artifacts.kernel : name === 'initrd.img' ? o.artifacts.initrd : undefined;
      return file ? { file } : refuse(404, `no installer file ${name}`);
    },

    image(name: string): Answer<FileReply> {
      const image = o.artifacts.image;
      return image?.path && basename(image.path) === name
        ? { file: image.path }
        : refuse(404, `no image ${name}`);
    },

    installEnv(name: string, asker: Asker): Answer {
      const who = nodeFor(name, asker);
      if (isRefused(who)) return who;
      return installEnv(o, who.node, `?mac=${who.mac}`);
    },

    seed(name: string, file: string, asker: Asker): Answer {
      if (!SEED_FILES.has(file)) return refuse(404, 'not found');
      const who = nodeFor(name, asker);
      if (isRefused(who)) return who;
      return rendered(`nodes/${who.node.name}/cloud-init/${file}`);
    },

    progress(name: string, asker: Asker, report: ProgressReport): Answer {
      const who = nodeFor(name, asker);
      if (isRefused(who)) return who;
      const { state, percent, message } = report;
      if (state !== 'installing' && state !== 'installed' && state !== 'failed')
        return refuse(400, 'state must be installing, installed or failed');
      // An install that ended spends its token: installed, nothing more is taken from it; failed,
      // the node's next PXE boot is a new install with a new token.
      if (state === 'installed') o.tokens.revoke(who.node.name);
      if (state === 'failed') o.tokens.replace(who.node.name);
      move(who.node.name, {
        kind: 'progress',
        state,
        ...(percent !== null ? { percent: Number(percent) } : {}),
        ...(message ? { message: message.slice(0, 500) } : {}),
      });
      return ok('ok\n');
    },

    hostKeys(name: string, asker: Asker, body: string): Answer {
      const who = nodeFor(name, asker);
      if (isRefused(who)) return who;
      const keys = body
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => HOST_KEY.test(l));
      if (keys.length === 0) return refuse(400, 'no OpenSSH public keys in the body');
      // Write-once per install: the keys civostack will pin for SSH come from the installer of a
      // boot it started, once; a second set, or one outside an install, is someone else's.
      const now = o.store.get(who.node.name)?.state ?? 'pending';
      if (now !== 'ipxe' && now !== 'installing')
        return refuse(
          409,
          `${name} is ${now}, not installing: host keys are taken only during an install civostack started; refused new keys from ${asker.from}`,
        );
      if (o.tokens.keysTaken(who.node.name))
        return refuse(
          409,
          `${name}'s host keys are already pinned for this install; refused new keys from ${asker.from}`,
        );
      o.tokens.takeKeys(who.node.name);
      move(who.node.name, { kind: 'hostkeys', keys });
      return ok('ok\n');
    },

    ztp(sw: string, file: string, from: string): Answer {
      if (!switchAddress.has(sw)) return refuse(404, `no switch ${sw}`);
      return fromReserved(from, switchAddress.get(sw), sw) ?? rendered(`switches/${sw}/${file}`, JSON_TYPE);
    },

    /** Every node's state, to whoever holds the API token (the CLI reads it from the state folder). */
    nodes(authorization: string | undefined): Answer {
      const presented = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
      if (presented === undefined || !sameSecret(presented, o.apiToken))
        return refuse(401, "the node API needs Authorization: Bearer <the boot state folder's api.token>");
      return ok(`${JSON.stringify(o.store.all(), null, 2)}\n`, JSON_TYPE);
    },
  };
}

/**
 * Records a per-MAC script the nginx front answered (from its log), as the server records one it
 * answers itself: a node's fetch moves its state, an unknown MAC is listed, a refusal is reported.
 */
export function ipxeRecorder(o: Pick<BootCoreOptions, 'plan' | 'store' | 'onEvent'>) {
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

function installEnv(o: BootCoreOptions, node: NodePlan, q: string): Answer {
  const image = o.artifacts.image;
  if (!image) return refuse(503, 'no OS image is configured on this boot server');
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
  const body = `${Object.entries(lines)
    .map(([k, v]) => `${k}='${String(v).replaceAll("'", "'\\''")}'`)
    .join('\n')}\n`;
  return { status: 200, body, type: TEXT };
}
