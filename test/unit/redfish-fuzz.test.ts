// Fuzzing the Redfish driver: a real HTTP server on 127.0.0.1 answers each request with the next of
// a list fast-check makes up (any status, Location, token and ETag headers, bodies from Redfish-like
// JSON with links anywhere to garbage and cut-off JSON). Whatever it says, a command resolves or
// rejects with the project's BmcError (never another error, never an unhandled rejection), and no
// request reaches a second server it names.
import * as http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BmcError } from '../../src/bmc/index.js';
import { redfishDriver } from '../helpers/redfish.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

let replies: readonly Reply[] = [];
let next = 0;
const foreignSeen: string[] = [];
const servers: http.Server[] = [];
let bmcPort = 0;
let foreignPort = 0;

async function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  bmcPort = await listen((req, res) => {
    req.resume();
    req.on('end', () => {
      const r = replies[next++ % Math.max(1, replies.length)] ?? { status: 404, headers: {}, body: '' };
      res.writeHead(r.status, r.headers);
      res.end(r.status === 204 || r.status === 304 ? undefined : r.body);
    });
  });
  foreignPort = await listen((req, res) => {
    foreignSeen.push(`${req.method} ${req.url}`);
    res.end('{}');
  });
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** URLs a BMC might name: its own paths, and other origins (the second server above all). */
function links(): fc.Arbitrary<string> {
  const path = fc.constantFrom('/redfish/v1/', '/redfish/v1/Systems', '/redfish/v1/Systems/1', '/x/../y', '');
  return fc.oneof(
    path,
    path.map((p) => `http://127.0.0.1:${bmcPort}${p}`),
    { arbitrary: path.map((p) => `http://127.0.0.1:${foreignPort}${p}`), weight: 3 },
    path.map((p) => `//127.0.0.1:${foreignPort}${p}`),
    path.map((p) => `http://admin:pw@127.0.0.1:${foreignPort}${p}`),
    path.map((p) => `https://127.0.0.1:${bmcPort}${p}`),
    path.map((p) => `http://localhost:${bmcPort}${p}`),
    fc.string({ maxLength: 12 }),
  );
}

/** Redfish-shaped JSON with every field optional and most of them of any type. */
function redfishBody(): fc.Arbitrary<unknown> {
  const link = links();
  const odata = fc.record({ '@odata.id': fc.oneof(link, fc.anything({ maxDepth: 1 })) });
  const any = fc.anything({ maxDepth: 2 });
  return fc.record(
    {
      Systems: odata,
      SessionService: odata,
      Links: fc.record({ Sessions: odata }),
      Members: fc.oneof(fc.array(odata, { maxLength: 3 }), any),
      PowerState: fc.oneof(fc.constantFrom('On', 'Off', 'PoweringOn', 'PoweringOff'), any),
      Manufacturer: fc.string({ maxLength: 20 }),
      Boot: fc.oneof(
        fc.record(
          {
            BootSourceOverrideTarget: fc.oneof(fc.constantFrom('Pxe', 'Hdd', 'None'), any),
            BootSourceOverrideEnabled: fc.oneof(fc.constantFrom('Once', 'Disabled'), any),
            'BootSourceOverrideTarget@Redfish.AllowableValues': fc.oneof(
              fc.array(any, { maxLength: 3 }),
              any,
            ),
          },
          { requiredKeys: [] },
        ),
        any,
      ),
      Actions: fc.record({
        '#ComputerSystem.Reset': fc.record(
          {
            target: fc.oneof(link, any),
            'ResetType@Redfish.AllowableValues': fc.oneof(
              fc.array(fc.constantFrom('On', 'ForceOff', 'ForceRestart', 'PowerCycle'), { maxLength: 3 }),
              any,
            ),
            '@Redfish.ActionInfo': fc.oneof(link, any),
          },
          { requiredKeys: [] },
        ),
      }),
      Parameters: fc.oneof(
        fc.array(fc.record({ Name: fc.constant('ResetType'), AllowableValues: any })),
        any,
      ),
      TaskState: fc.oneof(fc.constantFrom('Running', 'Completed', 'Exception'), any),
      // Any code unit: an ETag goes back out in If-Match, where Node refuses most of them.
      '@odata.etag': fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), any),
      error: fc.record({ message: fc.string({ maxLength: 20 }), '@Message.ExtendedInfo': any }),
    },
    { requiredKeys: [] },
  );
}

function reply(): fc.Arbitrary<Reply> {
  const token = fc.stringMatching(/^[\x21-\x7e]{0,16}$/);
  const headers = fc.record(
    {
      Location: links().filter((l) => /^[\x21-\x7e]*$/.test(l)),
      'X-Auth-Token': token,
      ETag: token,
      'Content-Type': fc.constantFrom('application/json', 'text/html'),
    },
    { requiredKeys: [] },
  );
  const json = redfishBody().map((b) => JSON.stringify(b));
  const body = fc.oneof(
    { arbitrary: json, weight: 4 },
    json.chain((t) => fc.nat(t.length).map((n) => t.slice(0, n))),
    fc.json(),
    fc.string({ maxLength: 40 }),
  );
  const status = fc.oneof(
    fc.constantFrom(200, 201, 202, 204, 301, 302, 303, 307, 308, 401, 403, 404, 405, 412, 500, 503),
    fc.integer({ min: 200, max: 599 }),
  );
  return fc.record({ status, headers, body });
}

describe('the Redfish driver under malformed replies', () => {
  it('resolves or rejects with a BmcError, and sends nothing off the BMC’s origin', async () => {
    const command = fc.constantFrom('status', 'on', 'off', 'cycle', 'pxe', 'disk');
    await fc.assert(
      fc.asyncProperty(fc.array(reply(), { minLength: 1, maxLength: 8 }), command, async (list, what) => {
        replies = list;
        next = 0;
        foreignSeen.length = 0;
        const d = redfishDriver(bmcPort, 'fuzz-pw', {
          attempts: 2,
          powerTimeoutMs: 20,
          requestTimeoutMs: 500,
          commandTimeoutMs: 1000,
        });
        const run =
          what === 'status'
            ? d.status()
            : what === 'on' || what === 'off' || what === 'cycle'
              ? d[what]()
              : d.bootNext(what);
        const outcome = await run.then(
          () => 'resolved',
          (err: unknown) => err,
        );
        await d.close();
        expect(outcome === 'resolved' || outcome instanceof BmcError, String(outcome)).toBe(true);
        expect(foreignSeen).toEqual([]);
      }),
      { numRuns: 150 },
    );
    expect(unhandled).toEqual([]);
  });
});
