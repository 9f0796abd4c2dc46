// Which ResetType the Redfish driver posts for on, off and cycle when the BMC lists its allowed
// types in an ActionInfo resource (`@Redfish.ActionInfo`, as iDRAC and OpenBMC do) rather than
// inline: each power action has its own preference, and a type the BMC does not allow is never
// sent. One case per type of each action, so swapping two actions' lists, dropping a type from
// one or ignoring the ActionInfo fails a case.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RedfishDriver } from '../../src/bmc/index.js';

const SYSTEM = '/redfish/v1/Systems/sled-3';
const RESET = `${SYSTEM}/Actions/ComputerSystem.Reset`;
const INFO = `${SYSTEM}/ResetActionInfo`;

/** A BMC without SessionService whose one system allows `allowed` resets, listed in ActionInfo. */
interface Bmc {
  power: 'On' | 'Off';
  readonly allowed: readonly string[];
  readonly posted: string[];
}

const POWER_AFTER: Record<string, 'On' | 'Off'> = {
  On: 'On',
  ForceOn: 'On',
  ForceOff: 'Off',
  GracefulShutdown: 'Off',
  ForceRestart: 'On',
  PowerCycle: 'On',
  GracefulRestart: 'On',
};

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function start(bmc: Bmc): Promise<RedfishDriver> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = req.url!.replace(/\/$/, '');
      const reply = (status: number, json?: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(json === undefined ? '' : JSON.stringify(json));
      };
      if (path === '/redfish/v1') return reply(200, { Systems: { '@odata.id': '/redfish/v1/Systems' } });
      if (path === '/redfish/v1/Systems') return reply(200, { Members: [{ '@odata.id': SYSTEM }] });
      if (path === SYSTEM)
        return reply(200, {
          PowerState: bmc.power,
          Actions: { '#ComputerSystem.Reset': { target: RESET, '@Redfish.ActionInfo': INFO } },
        });
      if (path === INFO)
        return reply(200, {
          Id: 'ResetActionInfo',
          Parameters: [
            { Name: 'Delay', DataType: 'Number' },
            { Name: 'ResetType', Required: true, DataType: 'String', AllowableValues: bmc.allowed },
          ],
        });
      if (path === RESET && req.method === 'POST') {
        const type = (JSON.parse(body) as { ResetType: string }).ResetType;
        bmc.posted.push(type);
        if (!bmc.allowed.includes(type)) return reply(400, { error: { message: `${type} not allowed` } });
        // PushPowerButton toggles, as a finger on the button would.
        bmc.power = POWER_AFTER[type] ?? (bmc.power === 'On' ? 'Off' : 'On');
        return reply(204);
      }
      reply(404);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const address = server.address();
  return new RedfishDriver({
    node: 'n1',
    address: '127.0.0.1',
    port: typeof address === 'object' && address ? address.port : 0,
    scheme: 'http',
    credentials: () => ({ username: 'admin', password: 'not-used-here' }),
    retryDelayMs: 1,
    pollMs: 1,
    powerTimeoutMs: 2000,
  });
}

interface Case {
  readonly action: 'on' | 'off' | 'cycle';
  readonly from: 'On' | 'Off';
  readonly allowed: readonly string[];
  /** The ResetTypes posted, in order. */
  readonly posted: readonly string[];
}

const CASES: readonly Case[] = [
  { action: 'on', from: 'Off', allowed: ['PushPowerButton', 'ForceOn', 'On'], posted: ['On'] },
  { action: 'on', from: 'Off', allowed: ['PushPowerButton', 'ForceOn', 'ForceOff'], posted: ['ForceOn'] },
  { action: 'on', from: 'Off', allowed: ['ForceOff', 'PushPowerButton'], posted: ['PushPowerButton'] },
  {
    action: 'off',
    from: 'On',
    allowed: ['PushPowerButton', 'GracefulShutdown', 'ForceOff'],
    posted: ['ForceOff'],
  },
  {
    action: 'off',
    from: 'On',
    allowed: ['PushPowerButton', 'GracefulShutdown', 'On'],
    posted: ['GracefulShutdown'],
  },
  { action: 'off', from: 'On', allowed: ['On', 'PushPowerButton'], posted: ['PushPowerButton'] },
  {
    action: 'cycle',
    from: 'On',
    allowed: ['GracefulRestart', 'PowerCycle', 'ForceRestart'],
    posted: ['ForceRestart'],
  },
  { action: 'cycle', from: 'On', allowed: ['GracefulRestart', 'PowerCycle', 'On'], posted: ['PowerCycle'] },
  { action: 'cycle', from: 'On', allowed: ['On', 'GracefulRestart'], posted: ['GracefulRestart'] },
  // No restart type at all: off, then on, each with its own preference.
  {
    action: 'cycle',
    from: 'On',
    allowed: ['GracefulShutdown', 'ForceOn'],
    posted: ['GracefulShutdown', 'ForceOn'],
  },
];

describe('Redfish reset types from ActionInfo', () => {
  it.each(CASES)('$action from $from posts $posted when ActionInfo allows $allowed', async (c) => {
    const bmc: Bmc = { power: c.from, allowed: c.allowed, posted: [] };
    const d = await start(bmc);
    await d[c.action]();
    await d.close();
    expect(bmc.posted).toEqual(c.posted);
    expect(bmc.power).toBe(c.action === 'off' ? 'Off' : 'On');
  });

  it('refuses, naming what it wanted and what the BMC allows, when no type fits', async () => {
    const bmc: Bmc = { power: 'Off', allowed: ['Nmi', 'ForceOff'], posted: [] };
    const d = await start(bmc);
    await expect(d.on()).rejects.toThrow(
      /offers none of On, ForceOn, PushPowerButton \(it allows \["Nmi","ForceOff"\]\)/,
    );
    await d.close();
    expect(bmc.posted).toEqual([]);
  });
});
