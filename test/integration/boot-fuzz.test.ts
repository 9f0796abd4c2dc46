// The boot server's endpoints under malformed input: random methods, paths (route prefixes with
// random tails, escapes, dots, slashes), query strings, headers (tokens, Authorization, X-Real-IP,
// ranges) and bodies (empty, random, huge, cut short), as raw bytes on a TCP socket to a real
// createBootServer on 127.0.0.1, with source checks off as in proxy-DHCP mode. Every request gets
// a status the server chose, none of them a 500 from an exception; no per-node answer (install.env,
// seed, progress, host keys, the node API) is given without the token; no node's state moves; and
// the server still answers afterwards.
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootServer, NodeStore, type BootEvent } from '../../src/boot/index.js';
import { InstallTokens } from '../../src/boot/install-tokens.js';
import { stateDirFor } from '../../src/state/index.js';
import { LAB, tempDir } from '../helpers/manifest.js';
import { renderFile } from '../helpers/render.js';

interface Sent {
  readonly method: string;
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  /** Declare more body than is sent, then close: a client gone mid-body. */
  readonly cutShort: boolean;
}

/** Writes `s` as raw HTTP/1.1 and reads until the server closes: the final status, if one came. */
function send(port: number, s: Sent): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      // The final status: after any interim 1xx (100 Continue for an Expect header).
      const text = Buffer.concat(chunks).toString('latin1');
      const final = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)]
        .map((m) => Number(m[1]))
        .find((c) => c >= 200);
      resolve(final);
    });
    const length = Buffer.byteLength(s.body) + (s.cutShort ? 10 : 0);
    const head = [
      `${s.method} ${s.target} HTTP/1.1`,
      'Host: boot.test',
      ...s.headers.map(([k, v]) => `${k}: ${v}`),
      `Content-Length: ${length}`,
      'Connection: close',
      '',
      '',
    ].join('\r\n');
    socket.write(head);
    socket.end(s.body);
  });
}

const chars = (set: string, maxLength: number) =>
  fc.array(fc.constantFrom(...set.split('')), { maxLength }).map((a) => a.join(''));

describe('boot server under malformed input', () => {
  const { plan, tree } = renderFile(LAB);
  const dir = tempDir('civostack-fuzz-');
  const state = stateDirFor(join(dir, 'lab.yaml'), 'lab1', join(dir, 'state'));
  const store = new NodeStore(
    state,
    plan.nodes.map((n) => n.name),
  );
  const events: BootEvent[] = [];
  const server = createBootServer({
    plan,
    tree,
    store,
    artifacts: {},
    checkSource: false,
    tokens: new InstallTokens(join(dir, 'state', 'boot', 'install-tokens.json')),
    apiToken: 'f'.repeat(32),
    onEvent: (e) => events.push(e),
  });
  const macs = plan.nodes.flatMap((n) => n.nics.map((nic) => nic.mac));
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const method = fc.oneof(
    fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'),
    chars('ABCDEFGXYZ-_', 8).filter((m) => m.length > 0),
  );
  const prefix = fc.constantFrom(
    '/',
    '/ipxe/',
    `/ipxe/${macs[0]!.replaceAll(':', '-')}.ipxe`,
    '/ipxe/boot.ipxe',
    '/installer/',
    '/images/',
    '/nodes/r01-n02/',
    '/nodes/r01-n02/seed/',
    '/nodes/r01-n02/seed/user-data',
    '/nodes/r01-n02/install.env',
    '/nodes/r01-n02/progress',
    '/nodes/r01-n02/hostkeys',
    '/ztp/r01-tor1/',
    '/api/v1/nodes',
    '*',
    'http://boot.test/nodes/r01-n02/seed/user-data',
  );
  const tail = chars("abz019.-_/%2eEfF5c\\~:@!$&'()*+,;=é\u0000", 24);
  // Often a real route with the node's own MAC: what an attacker who knows the MAC would send.
  const tailOrNone = fc.oneof({ weight: 2, arbitrary: fc.constant('') }, { weight: 3, arbitrary: tail });
  const n2mac = plan.nodes.find((n) => n.name === 'r01-n02')!.nics[0]!.mac;
  const query = fc
    .oneof(
      { weight: 3, arbitrary: fc.constant(`?mac=${n2mac}`) },
      fc.constant(''),
      fc.constantFrom(...macs).map((m) => `?mac=${m}`),
      chars('mac=&?%:0123456789abcdef+;#', 40).map((q) => `?${q}`),
    )
    .map((q) => q as string);
  const header = fc.tuple(
    fc.oneof(
      fc.constantFrom(
        'X-Civostack-Token',
        'Authorization',
        'X-Real-IP',
        'X-Civostack-Front',
        'Content-Type',
        'Range',
        'Transfer-Encoding',
        'Expect',
      ),
      chars('abcXYZ-_', 12).filter((k) => k.length > 0),
    ),
    fc.oneof(
      fc.constantFrom(
        'Bearer ',
        'bytes=0-',
        'bytes=-1',
        'chunked',
        '100-continue',
        '127.0.0.1',
        '0'.repeat(32),
      ),
      chars(' abcdef0123456789=-;,/\t\u00ff', 60),
    ),
  );
  const body = fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 200 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('state=installed', 'state=installing&percent=1e309', 'ssh-ed25519 AAAA x'),
    },
    { weight: 1, arbitrary: fc.nat({ max: 3 }).map((n) => 'x'.repeat(60 * 1024 + n * 20 * 1024)) },
  );
  const random = fc.record({
    method,
    target: fc.tuple(prefix, tailOrNone, query).map(([p, t, q]) => `${p}${t}${q}`.replaceAll(/[\r\n ]/g, '')),
    headers: fc.array(header, { maxLength: 6 }),
    body,
    cutShort: fc.boolean(),
  });
  // A well-formed per-node request with the node's MAC and random headers and body, no token.
  const perNode = fc.record({
    method: fc.constantFrom('GET', 'POST', 'HEAD'),
    target: fc
      .constantFrom('install.env', 'seed/user-data', 'seed/meta-data', 'progress', 'hostkeys')
      .map((r) => `/nodes/r01-n02/${r}?mac=${n2mac}`),
    headers: fc.array(header, { maxLength: 4 }),
    body,
    cutShort: fc.constant(false),
  });
  const request = fc.oneof({ weight: 3, arbitrary: random }, { weight: 1, arbitrary: perNode });

  it('answers every request with a status of its own choosing, and nothing per node without the token', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (s) => {
        const before = events.length;
        const status = await send(port, s);
        const crashes = events.slice(before).filter((e) => e.kind === 'refused' && e.status === 500);
        expect(crashes, JSON.stringify(crashes)).toEqual([]);
        // A client that went away mid-body may get no answer; every other one gets one.
        if (!s.cutShort) expect(status, JSON.stringify(s).slice(0, 300)).toBeDefined();
        if (status !== undefined) {
          expect(status).toBeGreaterThanOrEqual(200);
          expect(status).toBeLessThan(600);
          expect(status).not.toBe(500);
        }
        if (/\/(nodes|api)\//.test(s.target) && status !== undefined)
          expect(status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 300 },
    );
    // No node moved past its script fetch, and none has keys.
    for (const n of plan.nodes) {
      expect(['pending', 'ipxe']).toContain(store.get(n.name)!.state);
      expect(store.get(n.name)!.hostKeys).toBeUndefined();
    }
    expect(
      await send(port, { method: 'GET', target: '/ipxe/boot.ipxe', headers: [], body: '', cutShort: false }),
    ).toBe(200);
  });

  it('drops a client gone mid-body as a refusal, not an error, and keeps serving', async () => {
    const before = events.length;
    const cut = await send(port, {
      method: 'POST',
      target: `/nodes/r01-n02/progress?mac=${macs[1]!}`,
      headers: [['X-Civostack-Token', '0'.repeat(32)]],
      body: 'state=inst',
      cutShort: true,
    });
    expect(cut === undefined || cut >= 400).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.slice(before).filter((e) => e.kind === 'refused' && e.status === 500)).toEqual([]);
    expect(
      await send(port, { method: 'GET', target: '/ipxe/boot.ipxe', headers: [], body: '', cutShort: false }),
    ).toBe(200);
  });
});
