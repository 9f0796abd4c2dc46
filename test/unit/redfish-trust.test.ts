// The Redfish driver against hostile BMCs: real HTTP(S) servers on 127.0.0.1 that name URLs on a
// second server, redirect off their origin, answer without end or a byte at a time, and put control
// characters in what they say. No credential may reach the second server, every failure names its
// node, and what reaches a terminal or an event is printable.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { regionUp, rackPhases } from '../../src/apply/region-up.js';
import type { BootServiceProvider } from '../../src/apply/context.js';
import type { RedfishDriver } from '../../src/bmc/index.js';
import { BmcError, bmcStatus, type RedfishOptions } from '../../src/bmc/index.js';
import { bmcCommand } from '../../src/cli/bmc.js';
import type { Io } from '../../src/cli/output.js';
import { recorder } from '../../src/events.js';
import { loadRegion } from '../../src/manifest/index.js';
import { commit, prepare } from '../../src/pipeline.js';
import { labWith, LAB, tempDir } from '../helpers/manifest.js';
import { redfishDriver } from '../helpers/redfish.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

interface Served {
  readonly port: number;
  readonly origin: string;
  readonly seen: Seen[];
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

let tls: { key: Buffer; cert: Buffer } | undefined;
beforeAll(() => {
  const dir = tempDir('civostack-tls-');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=bmc.test',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
});

/** A real server on 127.0.0.1 that records every request (its headers above all) before `handler` answers. */
async function serve(handler: Handler, scheme: 'http' | 'https' = 'http'): Promise<Served> {
  const seen: Seen[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      handler(req, res, Buffer.concat(chunks).toString());
    });
  };
  const server = scheme === 'https' ? https.createServer(tls!, listener) : http.createServer(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { port, origin: `${scheme}://127.0.0.1:${port}`, seen };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

const SECRET = 'hunter2-bmc-Pa55';
const BASIC = `Basic ${Buffer.from(`admin:${SECRET}`).toString('base64')}`;

function driver(port: number, extra: Partial<RedfishOptions> = {}): RedfishDriver {
  return redfishDriver(port, SECRET, { node: 'r9-n7', ...extra });
}

/** What a BMC could carry a credential in: a header, or the password in a session login's body. */
function carriesCredentials(s: Seen): boolean {
  return (
    s.headers.authorization !== undefined || s.headers['x-auth-token'] !== undefined || s.method === 'POST'
  );
}

/** The error `p` rejects with (failing the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<BmcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BmcError);
  return err as BmcError;
}

/**
 * A BMC of one system that names `foreign` (another server's origin) in one place: the Systems
 * link, the system's member link, the reset action's target, the reset task's Location, or the
 * session's Location. With `sessions` it logs in with a session, else with Basic auth.
 */
function bmcNaming(place: string, foreign: string, sessions: boolean): Handler {
  const at = (p: string, path: string) => (place === p ? `${foreign}${path}` : path);
  return (req, res) => {
    const path = req.url!.replace(/\/$/, '');
    if (path === '/redfish/v1')
      return json(res, 200, {
        Systems: { '@odata.id': at('systems', '/redfish/v1/Systems') },
        ...(sessions ? { Links: { Sessions: { '@odata.id': at('login', '/redfish/v1/Sessions') } } } : {}),
      });
    if (path === '/redfish/v1/Sessions' && req.method === 'POST')
      return json(
        res,
        201,
        {},
        { 'X-Auth-Token': 'tok-7', Location: at('session', '/redfish/v1/Sessions/1') },
      );
    if (req.headers.authorization !== BASIC && req.headers['x-auth-token'] !== 'tok-7')
      return json(res, 401, {});
    if (path === '/redfish/v1/Systems')
      return json(res, 200, { Members: [{ '@odata.id': at('member', '/redfish/v1/Systems/1') }] });
    if (path === '/redfish/v1/Systems/1')
      return json(res, 200, {
        PowerState: 'Off',
        Actions: { '#ComputerSystem.Reset': { target: at('action', '/redfish/v1/Systems/1/Reset') } },
      });
    if (path === '/redfish/v1/Systems/1/Reset')
      return json(res, 202, {}, { Location: at('task', '/redfish/v1/Tasks/1') });
    if (path === '/redfish/v1/Tasks/1') return json(res, 200, { TaskState: 'Completed' });
    return json(res, 404, {});
  };
}

describe('a Redfish BMC that names URLs on another host', () => {
  // [where the other host is named, log in with a session, the BMC itself got a credential first]
  const cases: [string, boolean, boolean][] = [
    ['systems', false, true],
    ['member', false, true],
    ['action', false, true],
    ['task', false, true],
    ['systems', true, true],
    ['login', true, false],
    ['session', true, true],
    ['action', true, true],
    ['task', true, true],
  ];
  it.each(cases)(
    'sends nothing to the other host when the BMC names it as its %s link (session: %s)',
    async (place, sessions, bmcGotCredentials) => {
      const foreign = await serve((_req, res) => json(res, 200, {}));
      const bmc = await serve(bmcNaming(place, foreign.origin, sessions));
      const d = driver(bmc.port);
      const err = await rejection(d.on());
      await d.close();
      expect(foreign.seen).toEqual([]);
      expect(err.kind).toBe('foreign-url');
      expect(err.node).toBe('r9-n7');
      expect(err.message).toMatch(/^r9-n7: Redfish 127\.0\.0\.1: the BMC (linked to|named its session at) /);
      expect(err.message).toContain(`${foreign.origin}/redfish/v1/`);
      // The BMC itself was asked (with credentials, once logged in) until it named the other host.
      expect(bmc.seen.some(carriesCredentials)).toBe(bmcGotCredentials);
    },
  );

  it('over HTTPS with insecureTls too: the other host, whatever its certificate, gets nothing', async () => {
    const foreign = await serve((_req, res) => json(res, 200, {}), 'https');
    const bmc = await serve(bmcNaming('action', foreign.origin, false), 'https');
    const d = driver(bmc.port, { scheme: 'https', insecureTls: true });
    const err = await rejection(d.on());
    await d.close();
    expect(foreign.seen).toEqual([]);
    expect(err.kind).toBe('foreign-url');
    expect(err.message).toContain(`${foreign.origin}/redfish/v1/Systems/1/Reset`);
    expect(bmc.seen.filter((s) => s.headers.authorization === BASIC).length).toBeGreaterThan(0);
  });

  it('names the foreign URL in `bmc status` and reports the others', async () => {
    const foreign = await serve((_req, res) => json(res, 200, {}));
    const hostile = await serve(bmcNaming('member', foreign.origin, false));
    const fine = await serve(bmcNaming('none', foreign.origin, false));
    const results = await bmcStatus(
      ['hostile', 'fine'],
      (node) => driver(node === 'hostile' ? hostile.port : fine.port, { node }),
      { concurrency: 2 },
    );
    expect(foreign.seen).toEqual([]);
    expect(results.map((r) => [r.node, r.power])).toEqual([
      ['hostile', 'unknown'],
      ['fine', 'off'],
    ]);
    expect(results[0]!.error).toContain(`linked to "${foreign.origin}/redfish/v1/Systems/1"`);
  });
});

describe('a Redfish BMC that redirects', () => {
  it('is not followed off its origin: the other host gets nothing, the error names the URL', async () => {
    const foreign = await serve((_req, res) => json(res, 200, {}));
    const bmc = await serve((req, res) => {
      if (req.url === '/redfish/v1/')
        return json(res, 200, { Systems: { '@odata.id': '/redfish/v1/Systems' } });
      res.writeHead(307, { Location: `${foreign.origin}/steal${req.url}` });
      res.end();
    });
    const d = driver(bmc.port);
    const err = await rejection(d.off());
    await d.close();
    expect(err.kind).toBe('foreign-url');
    expect(err.message).toContain(`redirected to "${foreign.origin}/steal/redfish/v1/Systems"`);
    expect(foreign.seen).toEqual([]);
  });

  it('is followed on its origin, with the credentials, a bounded number of times', async () => {
    let loop = false;
    const bmc = await serve((req, res) => {
      const to = (location: string) => {
        res.writeHead(301, { Location: location });
        res.end();
      };
      if (req.url === '/redfish/v1/') return json(res, 200, { Systems: { '@odata.id': '/s' } });
      if (req.headers.authorization !== BASIC) return json(res, 401, {});
      if (req.url === '/s' && !loop) return to(`http://127.0.0.1:${bmc.port}/s/`);
      if (req.url === '/s/') return json(res, 200, { Members: [{ '@odata.id': '/s/1' }] });
      if (req.url === '/s/1') return json(res, 200, { PowerState: 'On' });
      return to('/s'); // with `loop`, /s to itself
    });
    expect((await driver(bmc.port).status()).power).toBe('on');
    loop = true;
    const before = bmc.seen.length;
    const err = await rejection(driver(bmc.port, { attempts: 1 }).on());
    expect(err.kind).toBe('redirect');
    expect(err.message).toMatch(/r9-n7: .*GET "\/s": more than 3 redirects/);
    // The first request and 3 redirects followed.
    expect(bmc.seen.slice(before).filter((s) => s.url === '/s')).toHaveLength(4);
  });
});

describe('a Redfish BMC that answers without end', () => {
  it('sending 1 GiB: the read stops at the bound with a too-large error, and the BMC could not send more than a few MiB', async () => {
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const bmc = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const more = () => {
        while (sent < 1024 ** 3) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      more();
    });
    const d = driver(bmc.port, { maxBodyBytes: 4 * 1024 * 1024 });
    const err = await rejection(d.on());
    expect(err.kind).toBe('too-large');
    expect(err.message).toMatch(
      /r9-n7: .*GET "\/redfish\/v1\/": the BMC's answer is longer than 4194304 bytes/,
    );
    // Sent is what the server's socket took: the bound plus socket buffers, nowhere near 1 GiB.
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect((await d.status()).reason).toMatch(/longer than 4194304 bytes/);
  });

  it('announcing 1 GiB in Content-Length: refused before the body is read', async () => {
    const bmc = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(1024 ** 3) });
      res.write('{"Systems":');
    });
    const err = await rejection(driver(bmc.port).on());
    expect(err.kind).toBe('too-large');
  });
});

describe('a Redfish BMC that trickles one byte every 5 s', () => {
  /** Headers at once, then the body a byte at a time, slower than anyone waits. */
  function trickle(): Handler {
    return (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const body = '{"Systems":{"@odata.id":"/redfish/v1/Systems"}}';
      let i = 0;
      const t = setInterval(() => (i < body.length ? res.write(body[i++]) : res.end()), 5000);
      res.write(body[i++]);
      res.on('close', () => clearInterval(t));
    };
  }

  it('fails the request at its deadline (the whole answer, not the gap between bytes)', async () => {
    const bmc = await serve(trickle());
    const err = await rejection(driver(bmc.port, { requestTimeoutMs: 300, attempts: 2 }).on());
    expect(err.kind).toBe('deadline');
    expect(err.message).toMatch(/r9-n7: .*GET "\/redfish\/v1\/": no complete answer within 0\.3 s/);
  });

  it('fails the command at its deadline, and `bmc status` reports the other nodes', async () => {
    const slow = await serve(trickle());
    const fine = await serve(bmcNaming('none', 'http://unused', false));
    const slowDriver = (node: string) =>
      driver(slow.port, { node, requestTimeoutMs: 120_000, commandTimeoutMs: 400, powerTimeoutMs: 0 });
    const err = await rejection(slowDriver('slow').on());
    expect(err.kind).toBe('deadline');
    expect(err.message).toMatch(/^slow: .*power on did not finish within 0\.4 s/);
    const results = await bmcStatus(
      ['slow', 'fine'],
      (node) => (node === 'slow' ? slowDriver(node) : driver(fine.port, { node })),
      { concurrency: 2 },
    );
    expect(results.map((r) => [r.node, r.power, r.error])).toEqual([
      ['slow', 'unknown', 'Redfish 127.0.0.1: status did not finish within 0.4 s'],
      ['fine', 'off', undefined],
    ]);
  });

  it('gives way to the run signal: cancelled is the run’s reason, not a BMC error', async () => {
    const bmc = await serve(trickle());
    const run = new AbortController();
    const reason = new Error('SIGINT');
    setTimeout(() => run.abort(reason), 100);
    const err = await driver(bmc.port)
      .on(run.signal)
      .catch((e: unknown) => e);
    expect(err).toBe(reason);
  });
});

/** A BMC with a session whose DELETE needs the token, as real ones do. */
function sessionBmc(system: Record<string, unknown>): Handler {
  return (req, res) => {
    const path = req.url!.replace(/\/$/, '');
    if (path === '/redfish/v1')
      return json(res, 200, {
        Systems: { '@odata.id': '/redfish/v1/Systems' },
        Links: { Sessions: { '@odata.id': '/redfish/v1/Sessions' } },
      });
    if (path === '/redfish/v1/Sessions' && req.method === 'POST')
      return json(res, 201, {}, { 'X-Auth-Token': 'tok-42', Location: '/redfish/v1/Sessions/42' });
    if (req.headers['x-auth-token'] !== 'tok-42') return json(res, 401, {});
    if (path === '/redfish/v1/Sessions/42' && req.method === 'DELETE') return json(res, 204, undefined);
    if (path === '/redfish/v1/Systems')
      return json(res, 200, { Members: [{ '@odata.id': '/redfish/v1/Systems/1' }] });
    if (path === '/redfish/v1/Systems/1') return json(res, 200, system);
    return json(res, 404, {});
  };
}

describe('Redfish sessions', () => {
  it('are deleted with their own token', async () => {
    const bmc = await serve(sessionBmc({ PowerState: 'On' }));
    const d = driver(bmc.port);
    expect((await d.status()).power).toBe('on');
    await d.close();
    const deletes = bmc.seen.filter((s) => s.method === 'DELETE');
    expect(deletes.map((s) => [s.url, s.headers['x-auth-token']])).toEqual([
      ['/redfish/v1/Sessions/42', 'tok-42'],
    ]);
  });
});

const HOSTILE_SYSTEM = {
  Manufacturer: '\x1b]0;owned\x07Acme\x1b[2J',
  Model: 'R9\r\nr01-n02  10.99.0.16  ipmi  on',
  PowerState: '\x1b[31mOn\u202e\x9b2K',
};
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe('what a BMC says, on a terminal and in events', () => {
  function manifestFor(port: number): string {
    const file = labWith((m) => {
      const n = (m as unknown as { racks: { nodes: { bmc: Record<string, unknown> }[] }[] }).racks[0]!
        .nodes[0]!;
      n.bmc = { ...n.bmc, address: '127.0.0.1', port };
    });
    writeFileSync(join(file, '..', 'lab-bmc.credentials.yaml'), 'username: admin\npassword: x\n', {
      mode: 0o600,
    });
    return file;
  }

  function io(): Io & { text: () => string } {
    const lines: string[] = [];
    return {
      out: (t) => lines.push(t),
      err: (t) => lines.push(t),
      color: false,
      text: () => lines.join('\n'),
    };
  }

  it('is stripped of control characters in `bmc status`, as a table and as JSON', async () => {
    const bmc = await serve(sessionBmc(HOSTILE_SYSTEM), 'https');
    const file = manifestFor(bmc.port);
    const state = tempDir();
    for (const output of ['text', 'json'] as const) {
      const out = io();
      const code = await bmcCommand(out, 'status', file, ['r01-n01'], {
        output,
        concurrency: '1',
        stateDir: state,
      });
      const text = out.text();
      expect(code).toBe(1);
      expect(text).toContain('Acme R9 r01-n02  10.99.0.16  ipmi  on');
      expect(text).toMatch(/PowerState reads \\?"On\\?"/);
      expect(CONTROL.test(text.replace(/\n/g, ' '))).toBe(false);
      // JSON would escape them (\u001b): none there either.
      expect(text).not.toMatch(/\\u00|\\r|\\n/);
    }
  });

  it('is stripped of control characters in region up’s events, and fails its node alone', async () => {
    const bmc = await serve(sessionBmc(HOSTILE_SYSTEM));
    const loaded = loadRegion(LAB);
    if (!loaded.ok) throw new Error('lab.yaml does not load');
    const state = { path: join(tempDir('civostack-apply-'), 'state') };
    const prepared = prepare({ region: loaded.region, manifestDir: join(LAB, '..'), state });
    commit(prepared);
    const rec = recorder();
    const noBoot: BootServiceProvider = {
      describe: () => 'fake boot service',
      running: () => Promise.resolve(false),
      start: () => Promise.resolve({ ensureRunning: () => Promise.resolve(), stop: () => Promise.resolve() }),
    };
    const r = await regionUp({
      manifest: LAB,
      prepared,
      environment: {
        phases: rackPhases(),
        power: (node: string) => (node === 'r01-n01' ? driver(bmc.port, { node }) : undefined),
        boot: noBoot,
      },
      emit: rec.sink,
      signal: new AbortController().signal,
      nodeTimeoutMs: 1,
      selection: { only: 'power' },
    });
    expect(r.outcome).toBe('done');
    const failed = rec.events.find((e) => e.kind === 'warning' && e.code === 'node.failed');
    expect(failed && 'message' in failed ? failed.message : '').toBe(
      'r01-n01: BMC state unknown (PowerState reads "On"): the node is left out',
    );
    const mine = JSON.stringify(rec.events.filter((e) => 'target' in e && e.target === 'r01-n01'));
    expect(CONTROL.test(mine)).toBe(false);
    expect(mine).not.toMatch(/\\u00|\\r|\\n/);
  });
});
