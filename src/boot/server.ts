// The boot server's HTTP shell: per-MAC iPXE scripts, installer and OS image, per-node cloud-init
// seeds, switch ZTP files, and the phone-home API installers report to. It works out who is asking
// (the socket's address, or nginx's X-Real-IP when nginx proves itself), bounds the request, finds
// the route (boot-routes.ts) and writes what the core (boot-core.ts) answered; every per-node answer
// goes only to that node's MACs (and, where DHCP reserved an address, to requests from that address).
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { createBootCore, isRefused, refuse, type BootCoreOptions, type Refused } from './boot-core.js';
import { findRoute } from './boot-routes.js';
import { sendFile } from './http-file.js';

export { ipxeRecorder, type BootArtifacts, type BootEvent, type ImageArtifact } from './boot-core.js';

/**
 * Accept queue of the boot server's socket. A rack powering on at once opens hundreds of connections
 * in the same second; Node's default (511) overflowed under 1,000, and each dropped handshake costs
 * the client a SYN-ACK retransmission (1 s, then 2 s, 4 s…). The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

export interface BootServerOptions extends BootCoreOptions {
  /**
   * Behind the nginx front (on loopback): a request carrying this token in X-Civostack-Front comes
   * from nginx, and its X-Real-IP is the client's address. Without the token, X-Real-IP is ignored:
   * a local process cannot pass for a node by setting it.
   */
  readonly frontToken?: string;
}

/** A refusal raised while reading the request (a body too large). */
class RequestRefused extends Error {
  constructor(readonly refusal: Refused) {
    super(refusal.reason);
  }
}

const SEGMENT = /^[a-z0-9][a-z0-9._-]*$/;
const MAX_BODY = 64 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** Refused unless `raw` is a plain path: nothing that could escape a folder or hide from the routes. */
function plainPath(raw: string): { path: string; query: URLSearchParams } | Refused {
  if (raw.includes('..') || raw.includes('//') || raw.includes('\\') || /%2e|%2f|%5c|%00/i.test(raw))
    return refuse(400, 'malformed path');
  let url: URL;
  try {
    url = new URL(raw, 'http://boot.invalid');
  } catch {
    return refuse(400, 'malformed path');
  }
  if (
    url.pathname
      .split('/')
      .slice(1)
      .some((p) => !SEGMENT.test(p))
  )
    return refuse(400, 'malformed path');
  return { path: url.pathname, query: url.searchParams };
}

export function createBootServer(o: BootServerOptions): Server {
  const core = createBootCore(o);

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    from: string,
  ): Promise<Refused | undefined> => {
    const target = plainPath(req.url ?? '/');
    if (isRefused(target)) return target;
    const method = req.method ?? 'GET';
    const found = findRoute(method, target.path);
    if (!found) return refuse(404, 'not found');
    const answer = await found.route.handle(
      core,
      { query: target.query, headers: req.headers, from, body: () => readBody(req) },
      found.args,
    );
    if (isRefused(answer)) return answer;
    if ('file' in answer) {
      await sendFile(req, res, answer.file, 'application/octet-stream');
      return undefined;
    }
    res.writeHead(answer.status, {
      'Content-Type': answer.type,
      'Content-Length': Buffer.byteLength(answer.body),
      ...(answer.status === 200 ? { 'Cache-Control': 'no-store' } : {}),
    });
    res.end(method === 'HEAD' ? undefined : answer.body);
    return undefined;
  };

  const server = createServer((req, res) => {
    const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const forwarded = req.headers['x-real-ip'];
    const fromFront =
      o.frontToken !== undefined && peer === '127.0.0.1' && req.headers['x-civostack-front'] === o.frontToken;
    const from = fromFront && typeof forwarded === 'string' && forwarded !== '' ? forwarded : peer;
    const refused = (r: Refused) => {
      o.onEvent({
        kind: 'refused',
        status: r.status,
        method: req.method ?? '?',
        path: (req.url ?? '').slice(0, 200),
        from,
        reason: r.reason,
      });
      if (!res.headersSent) {
        res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`${r.reason}\n`);
      } else {
        res.destroy();
      }
    };
    handle(req, res, from).then(
      (r) => r && refused(r),
      (err: unknown) => {
        if (err instanceof RequestRefused) return refused(err.refusal);
        // Anything else is ours: logged with its words, answered without them.
        const reason = err instanceof Error ? err.message : String(err);
        o.onEvent({
          kind: 'refused',
          status: 500,
          method: req.method ?? '?',
          path: (req.url ?? '').slice(0, 200),
          from,
          reason,
        });
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('internal error\n');
        } else {
          res.destroy();
        }
      },
    );
  });
  // A slow client (headers or a body trickled a byte at a time) holds a socket for seconds, not
  // Node's 5 minutes: installers send a few hundred bytes at once.
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  refuseTunnels(server, o);
  return server;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new RequestRefused(refuse(413, 'body too large'));
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof RequestRefused) throw err;
    // The client went away before its body ended (ECONNRESET, "aborted"): its request, not our fault.
    throw new RequestRefused(refuse(400, 'request body cut short'));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * CONNECT and Upgrade requests bypass the request handler; without a listener Node drops the socket
 * with no answer. The boot server tunnels and upgrades nothing: it says so and closes.
 */
function refuseTunnels(server: Server, o: BootServerOptions): void {
  const answer = (req: IncomingMessage, socket: Duplex, status: number, reason: string) => {
    o.onEvent({
      kind: 'refused',
      status,
      method: req.method ?? '?',
      path: (req.url ?? '').slice(0, 200),
      from: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
      reason,
    });
    socket.on('error', () => undefined);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(reason) + 1}\r\nConnection: close\r\n\r\n${reason}\n`,
      // Detached from the HTTP server: closed here, or server.close() would wait on it.
      () => socket.destroy(),
    );
  };
  server.on('connect', (req: IncomingMessage, socket: Duplex) => answer(req, socket, 405, 'no CONNECT here'));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) =>
    answer(req, socket, 400, 'no protocol upgrade here'),
  );
}
