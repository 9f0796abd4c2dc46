// The BMC drivers' protocol logic against small in-process fakes. The proof against real BMC software
// (ipmi_sim, sushy-tools) is test/integration/bmc.test.ts.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedfishDriver } from '../../src/bmc/index.js';
import { IpmiDriver, parseBootFlags, printable, readCredentials, type IpmiRun } from '../../src/bmc/index.js';
import { relayActions } from '../../src/lab/redfish-relay.js';
import { labWith, tempDir } from '../helpers/manifest.js';
import { redfishDriver } from '../helpers/redfish.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion } from '../../src/plan/index.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

type Handler = (req: Seen) => { status: number; body?: unknown; headers?: Record<string, string> };

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function fake(handler: Handler): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const s: Seen = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      seen.push(s);
      const r = handler(s);
      res.writeHead(r.status, { 'Content-Type': 'application/json', ...r.headers });
      res.end(r.body === undefined ? '' : JSON.stringify(r.body));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, seen };
}

const SECRET = 's3cret-Pa55';

function driver(port: number, extra: Partial<ConstructorParameters<typeof RedfishDriver>[0]> = {}) {
  return redfishDriver(port, SECRET, extra);
}

/** A BMC with IDs no one would guess, a SessionService and an ETag on its one system. */
function bmc(state: {
  power: string;
  target: string;
  enabled: string;
  etag: number;
  revert?: boolean;
}): Handler {
  const system = '/redfish/v1/Systems/9f3e-blade-07';
  return (req) => {
    const path = req.url.replace(/\/$/, '');
    if (path === '/redfish/v1')
      return {
        status: 200,
        body: {
          Systems: { '@odata.id': '/redfish/v1/Compute' },
          Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
        },
      };
    if (path === '/redfish/v1/SessionService/Sessions' && req.method === 'POST')
      return (req.body as { Password: string }).Password === SECRET
        ? {
            status: 201,
            headers: { 'X-Auth-Token': 'tok-1', Location: '/redfish/v1/SessionService/Sessions/77' },
          }
        : { status: 401 };
    if (req.headers['x-auth-token'] !== 'tok-1') return { status: 401 };
    if (path === '/redfish/v1/Compute') return { status: 200, body: { Members: [{ '@odata.id': system }] } };
    if (path === system && req.method === 'GET')
      return {
        status: 200,
        headers: { ETag: `"e${state.etag}"` },
        body: {
          PowerState: state.power,
          Boot: { BootSourceOverrideTarget: state.target, BootSourceOverrideEnabled: state.enabled },
          Actions: {
            '#ComputerSystem.Reset': {
              target: `${system}/Actions/Reset`,
              'ResetType@Redfish.AllowableValues': ['On', 'GracefulShutdown', 'PowerCycle'],
            },
          },
        },
      };
    if (path === system && req.method === 'PATCH') {
      if (req.headers['if-match'] !== `"e${state.etag}"`) return { status: 412 };
      const boot = (
        req.body as { Boot: { BootSourceOverrideTarget: string; BootSourceOverrideEnabled: string } }
      ).Boot;
      if (!state.revert) {
        state.target = boot.BootSourceOverrideTarget;
        state.enabled = boot.BootSourceOverrideEnabled;
      }
      state.etag++;
      return { status: 200 };
    }
    if (path === `${system}/Actions/Reset` && req.method === 'POST') {
      const type = (req.body as { ResetType: string }).ResetType;
      state.power = type === 'GracefulShutdown' ? 'Off' : 'On';
      return { status: 202, headers: { Location: '/redfish/v1/TaskService/Tasks/5' } };
    }
    if (path === '/redfish/v1/TaskService/Tasks/5') return { status: 200, body: { TaskState: 'Completed' } };
    if (path === '/redfish/v1/SessionService/Sessions/77' && req.method === 'DELETE') return { status: 204 };
    return { status: 404 };
  };
}

describe('Redfish driver', () => {
  it('finds the system by following @odata.id links and logs in with a session it deletes on close', async () => {
    const { port, seen } = await fake(bmc({ power: 'Off', target: 'None', enabled: 'Disabled', etag: 1 }));
    const d = driver(port);
    expect(await d.status()).toEqual({ power: 'off', bootNext: 'none' });
    await d.close();
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /redfish/v1/',
      'POST /redfish/v1/SessionService/Sessions',
      'GET /redfish/v1/',
      'GET /redfish/v1/Compute',
      'GET /redfish/v1/Systems/9f3e-blade-07',
      'DELETE /redfish/v1/SessionService/Sessions/77',
    ]);
    expect(seen.every((s) => s.headers.authorization === undefined)).toBe(true);
  });

  it('PATCHes the boot override Once with the ETag it read, and reads it back', async () => {
    const state = { power: 'Off', target: 'None', enabled: 'Disabled', etag: 4 };
    const { port, seen } = await fake(bmc(state));
    const d = driver(port);
    await d.bootNext('pxe');
    const patch = seen.find((s) => s.method === 'PATCH')!;
    expect(patch.headers['if-match']).toBe('"e4"');
    expect(patch.body).toEqual({
      Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' },
    });
    expect(seen.at(-1)!.method).toBe('GET');
    expect((await d.status()).bootNext).toBe('pxe');
  });

  it('reads the system again for a fresh ETag when the PATCH gets 412 Precondition Failed, and PATCHes with it', async () => {
    const state = { power: 'Off', target: 'None', enabled: 'Disabled', etag: 4 };
    const inner = bmc(state);
    let raced = false;
    const { port, seen } = await fake((req) => {
      // Another client writes the system between our read and our first PATCH: its ETag moves on.
      if (req.method === 'PATCH' && !raced) {
        raced = true;
        state.etag++;
      }
      return inner(req);
    });
    await driver(port).bootNext('pxe');
    const system = '/redfish/v1/Systems/9f3e-blade-07';
    const writes = seen
      .filter((s) => s.url === system)
      .map((s) => `${s.method} ${s.headers['if-match'] ?? ''}`);
    expect(writes).toEqual(['GET ', 'PATCH "e4"', 'GET ', 'PATCH "e5"', 'GET ']);
    expect(state.target).toBe('Pxe');
  });

  it('fails when the BMC answers 200 to the PATCH but reads back the old override', async () => {
    const { port } = await fake(
      bmc({ power: 'Off', target: 'Hdd', enabled: 'Disabled', etag: 1, revert: true }),
    );
    await expect(driver(port).bootNext('pxe')).rejects.toThrow(
      /n1: .*accepted the boot override Pxe but reads back none/,
    );
  });

  it('chooses reset types from ResetType@Redfish.AllowableValues and follows the 202 task', async () => {
    const state = { power: 'On', target: 'None', enabled: 'Disabled', etag: 1 };
    const { port, seen } = await fake(bmc(state));
    const d = driver(port);
    await d.off();
    await d.cycle(); // off: powers on
    state.power = 'On';
    await d.cycle();
    const types = seen
      .filter((s) => s.url.endsWith('/Actions/Reset'))
      .map((s) => (s.body as { ResetType: string }).ResetType);
    expect(types).toEqual(['GracefulShutdown', 'On', 'PowerCycle']);
    expect(seen.some((s) => s.url === '/redfish/v1/TaskService/Tasks/5')).toBe(true);
  });

  it('retries 5xx answers with backoff, then succeeds', async () => {
    let failures = 2;
    const inner = bmc({ power: 'On', target: 'None', enabled: 'Disabled', etag: 1 });
    const { port, seen } = await fake((req) =>
      req.url.startsWith('/redfish/v1/Compute') && failures-- > 0 ? { status: 503 } : inner(req),
    );
    expect((await driver(port).status()).power).toBe('on');
    expect(seen.filter((s) => s.url === '/redfish/v1/Compute')).toHaveLength(3);
  });

  it('falls back to Basic auth where the BMC has no SessionService', async () => {
    const { port, seen } = await fake((req) => {
      if (req.url === '/redfish/v1/') return { status: 200, body: { Systems: { '@odata.id': '/s' } } };
      if (req.headers.authorization !== `Basic ${Buffer.from(`admin:${SECRET}`).toString('base64')}`)
        return { status: 401 };
      if (req.url === '/s') return { status: 200, body: { Members: [{ '@odata.id': '/s/1' }] } };
      return { status: 200, body: { PowerState: 'On' } };
    });
    expect((await driver(port).status()).power).toBe('on');
    expect(seen.filter((s) => s.headers.authorization)).toHaveLength(3);
  });

  it('reads "unknown" (never "off") with the reason when refused or unreachable, and never shows the password', async () => {
    const { port } = await fake(bmc({ power: 'Off', target: 'None', enabled: 'Disabled', etag: 1 }));
    const refused = await driver(port, {
      credentials: () => ({ username: 'admin', password: 'wrong-one' }),
    }).status();
    expect(refused.power).toBe('unknown');
    expect(refused.reason).toMatch(/refused the credentials \(HTTP 401\)/);
    expect(JSON.stringify(refused)).not.toContain('wrong-one');
    const closed = await driver(1, { attempts: 2 }).status();
    expect(closed).toMatchObject({ power: 'unknown' });
    expect(closed.reason).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  });
});

describe('IPMI driver', () => {
  it('passes the password in IPMI_PASSWORD (-E), never in argv, with lanplus and the cipher suite', async () => {
    const calls: { args: readonly string[]; env: Record<string, string> }[] = [];
    const run: IpmiRun = async (_file, args, env) => {
      calls.push({ args, env });
      return { exitCode: 0, stdout: 'Chassis Power is on\n', stderr: '' };
    };
    const d = new IpmiDriver({
      node: 'n2',
      address: '10.0.0.9',
      cipherSuite: 3,
      credentials: () => ({ username: 'admin', password: SECRET }),
      run,
      gapMs: 0,
    });
    await d.bootNext('disk');
    expect(calls[0]!.args).toEqual(
      expect.arrayContaining([
        '-I',
        'lanplus',
        '-E',
        '-C',
        '3',
        '-H',
        '10.0.0.9',
        'chassis',
        'bootdev',
        'disk',
      ]),
    );
    expect(calls[0]!.args.join(' ')).not.toContain(SECRET);
    expect(calls[0]!.args).not.toContain('-P');
    expect(calls[0]!.env.IPMI_PASSWORD).toBe(SECRET);
  });

  it('does not retry a refused login, retries other failures, and spaces commands to one BMC', async () => {
    const times: number[] = [];
    let stderr = '> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session';
    const run: IpmiRun = async () => {
      times.push(Date.now());
      return { exitCode: 1, stdout: '', stderr };
    };
    const d = new IpmiDriver({
      node: 'n2',
      address: '10.0.0.10',
      cipherSuite: 17,
      credentials: () => ({ username: 'a', password: SECRET }),
      run,
      gapMs: 200,
    });
    const s = await d.status();
    expect(s.power).toBe('unknown');
    expect(s.reason).toMatch(/refused the credentials/);
    expect(times).toHaveLength(1);
    stderr = 'Error: Unable to establish IPMI v2 / RMCP+ session';
    await expect(d.on()).rejects.toThrow(/failed after 3 attempts/);
    expect(times).toHaveLength(4);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(190);
  });

  it('reads the one-time boot override from the boot flags, an invalid flag being none', () => {
    expect(
      parseBootFlags(
        ' Boot Flags :\n   - Boot Flag Valid\n   - Options apply to only next boot\n   - Boot Device Selector : Force PXE\n',
      ),
    ).toBe('pxe');
    expect(
      parseBootFlags(
        '   - Boot Flag Valid\n   - Boot Device Selector : Force Boot from default Hard-Drive\n',
      ),
    ).toBe('disk');
    expect(parseBootFlags('   - Boot Flag Invalid\n   - Boot Device Selector : Force PXE\n')).toBe('none');
  });
});

describe('printable BMC text', () => {
  it('drops whole escape sequences, C0/C1 and bidi controls, puts one space for line breaks, and cuts by code point', () => {
    expect(printable('\x1b]0;title\x07Acme\x1b[1;31m X\x1b[0m\x1bc')).toBe('Acme X');
    expect(printable('On\x9b2K\u202e\u2066ffO\x00\x7f\x85')).toBe('OnffO ');
    expect(printable('a\r\nb\tc')).toBe('a b c');
    expect(printable('😀😀😀', 3)).toBe('😀😀…');
    expect(printable('x'.repeat(10), 4)).toBe('xxx…');
  });
});

describe('BMC credentials', () => {
  it('refuses a credentials file its group may read or write, as well as others', () => {
    const file = join(tempDir(), 'bmc.yaml');
    writeFileSync(file, `username: admin\npassword: ${SECRET}\n`);
    for (const mode of [0o640, 0o660, 0o620, 0o604]) {
      chmodSync(file, mode);
      expect(() => readCredentials('n1', file)).toThrow(
        `may be read by other users (mode ${mode.toString(8).padStart(4, '0')})`,
      );
    }
    chmodSync(file, 0o400);
    expect(readCredentials('n1', file).password).toBe(SECRET);
  });

  it('refuses a credentials file other users may read, naming the file and not its content', () => {
    const file = join(tempDir(), 'bmc.yaml');
    writeFileSync(file, `username: admin\npassword: ${SECRET}\n`);
    chmodSync(file, 0o644);
    expect(() => readCredentials('n1', file)).toThrow(
      /n1: BMC credentials file .*bmc\.yaml may be read by other users \(mode 0644\)/,
    );
    chmodSync(file, 0o600);
    expect(readCredentials('n1', file)).toEqual({ username: 'admin', password: SECRET });
  });

  it('is refused at validation when loose, with the place and a chmod hint', () => {
    const file = labWith((m) => {
      m.os.profile = 'custom';
      m.os.sshAuthorizedKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2x user@host'];
    });
    const creds = join(file, '..', 'lab-bmc.credentials.yaml');
    const missing = loadRegion(file);
    expect(missing.diagnostics.map((d) => d.code)).toContain('missing-file');
    writeFileSync(creds, 'username: a\npassword: b\n', { mode: 0o640 });
    chmodSync(creds, 0o640);
    const loose = loadRegion(file).diagnostics.find((d) => d.code === 'loose-secret-file');
    expect(loose?.message).toMatch(/other users may read it \(mode 0640\)/);
    expect(loose?.hint).toMatch(/^chmod 600 /);
  });
});

describe('the lab Redfish relay', () => {
  it('turns sushy-tools notifications into hook calls: boot changes, then power once it landed', () => {
    expect(relayActions('Off', { power_state: 'Off', boot_device: 'Pxe' })).toEqual([
      { action: 'boot-next', device: 'pxe' },
    ]);
    expect(
      relayActions('Off', { power_state: 'Off', boot_device: 'Pxe', pending_power: { power_state: 'On' } }),
    ).toEqual([]);
    expect(relayActions('Off', { power_state: 'On', boot_device: 'Pxe' })).toEqual([{ action: 'start' }]);
    expect(
      relayActions('On', {
        power_state: 'Off',
        boot_device: 'Pxe',
        pending_power: { power_state: 'ForceRestart' },
      }),
    ).toEqual([{ action: 'stop' }]);
  });
});

describe('BMC fields in the manifest', () => {
  it('gives the Plan each BMC its planned OOB address, protocol and credentials path, rack defaults merged', () => {
    const file = labWith(() => {});
    const loaded = loadRegion(file);
    if (!loaded.ok) throw new Error('lab manifest does not load');
    const region = loaded.region;
    expect(region.nodes.map((n) => [n.name, n.bmc?.protocol, n.bmc?.cipherSuite])).toEqual([
      ['r01-n01', 'redfish', 3],
      ['r01-n02', 'ipmi', 3],
      ['r01-n03', 'ipmi', 3],
    ]);
    const n1 = planRegion(region, {}, { prune: false }).plan.nodes[0]!;
    expect(n1.bmc).toEqual({
      mac: '52:54:00:0c:00:01',
      address: '10.99.0.15',
      access: {
        protocol: 'redfish',
        credentialsFile: 'lab-bmc.credentials.yaml',
        port: undefined,
        insecureTls: true,
        cipherSuite: 3,
      },
    });
  });

  it('reports a node BMC without protocol, one without address or bmcMac, and warns of an address outside the OOB network', () => {
    const file = labWith((m) => {
      delete m.racks[0].bmc;
      m.racks[0].nodes[0].bmc = { credentialsFile: 'x.yaml' };
      m.racks[0].nodes[1].bmc = { protocol: 'ipmi', credentialsFile: 'x.yaml', address: '192.168.7.9' };
      delete m.racks[0].nodes[2].bmcMac;
      m.racks[0].nodes[2].bmc = { protocol: 'ipmi', credentialsFile: 'x.yaml' };
    });
    const d = loadRegion(file).diagnostics;
    expect(d.map((x) => [x.severity, x.code])).toEqual(
      expect.arrayContaining([
        ['error', 'bmc-protocol-missing'],
        ['warning', 'bmc-outside-oob'],
        ['error', 'bmc-address-missing'],
      ]),
    );
    expect(d.find((x) => x.code === 'bmc-address-missing')?.message).toMatch(
      /r01-n03's BMC has neither an address nor a bmcMac/,
    );
  });
});
