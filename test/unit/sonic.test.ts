// The SONiC config_db.json rules (checkConfigDb): the lab ToR's config passes, and each rule,
// given a config broken in exactly its way, reports exactly one problem with its own message.
import { describe, expect, it } from 'vitest';
import { checkConfigDb, configDb, type ConfigDb } from '../../src/render/index.js';
import { LAB } from '../helpers/manifest.js';
import { renderFile } from '../helpers/render.js';

const { plan } = renderFile(LAB);
const tor = plan.switches.find((s) => s.name === 'r01-tor1')!;

interface Case {
  readonly rule: string;
  readonly breakIt: (db: ConfigDb) => void;
  readonly table: string;
  readonly key: string;
  readonly message: string;
}

// One broken input per rule in checkConfigDb, in its order. Names are the lab ToR's own:
// PortChannel1 holds Ethernet0; Vlan10 is untagged on PortChannel1; Ethernet10 is a free port.
const CASES: readonly Case[] = [
  {
    rule: 'every value is a string',
    breakIt: (db) => void (db['PORT']!['Ethernet10']!['mtu'] = 9100 as unknown as string),
    table: 'PORT',
    key: 'Ethernet10',
    message: 'mtu must be a string',
  },
  {
    rule: 'a VLAN is named for its vlanid',
    breakIt: (db) => void (db['VLAN']!['Vlan20']!['vlanid'] = '21'),
    table: 'VLAN',
    key: 'Vlan20',
    message: 'vlanid 21 does not match the VLAN name',
  },
  {
    rule: 'a port-channel member names a defined port-channel',
    breakIt: (db) => void (db['PORTCHANNEL_MEMBER']!['PortChannel7|Ethernet10'] = {}),
    table: 'PORTCHANNEL_MEMBER',
    key: 'PortChannel7|Ethernet10',
    message: 'PortChannel7 is not defined in PORTCHANNEL',
  },
  {
    rule: 'a port-channel member names a defined port',
    breakIt: (db) => void (db['PORTCHANNEL_MEMBER']!['PortChannel1|Ethernet99'] = {}),
    table: 'PORTCHANNEL_MEMBER',
    key: 'PortChannel1|Ethernet99',
    message: 'Ethernet99 is not defined in PORT',
  },
  {
    rule: 'a port is in one port-channel at most',
    breakIt: (db) => void (db['PORTCHANNEL_MEMBER']!['PortChannel2|Ethernet0'] = {}),
    table: 'PORTCHANNEL_MEMBER',
    key: 'PortChannel2|Ethernet0',
    message: 'Ethernet0 is already a member of PortChannel1',
  },
  {
    rule: 'a member port has its port-channel MTU',
    breakIt: (db) => void (db['PORT']!['Ethernet0']!['mtu'] = '1500'),
    table: 'PORTCHANNEL_MEMBER',
    key: 'PortChannel1|Ethernet0',
    message: `Ethernet0 has MTU 1500 but PortChannel1 has ${tor.portChannels.find((p) => p.name === 'PortChannel1')!.mtu}`,
  },
  {
    rule: 'a VLAN member names a defined VLAN',
    breakIt: (db) => void (db['VLAN_MEMBER']!['Vlan30|PortChannel1'] = { tagging_mode: 'tagged' }),
    table: 'VLAN_MEMBER',
    key: 'Vlan30|PortChannel1',
    message: 'Vlan30 is not defined in VLAN',
  },
  {
    rule: 'a port-channel member is not itself a VLAN member',
    breakIt: (db) => void (db['VLAN_MEMBER']!['Vlan20|Ethernet0'] = { tagging_mode: 'tagged' }),
    table: 'VLAN_MEMBER',
    key: 'Vlan20|Ethernet0',
    message: 'Ethernet0 is a member of PortChannel1 and cannot be a VLAN member',
  },
  {
    rule: 'a VLAN member is a port or a port-channel',
    breakIt: (db) => void (db['VLAN_MEMBER']!['Vlan20|Ethernet99'] = { tagging_mode: 'tagged' }),
    table: 'VLAN_MEMBER',
    key: 'Vlan20|Ethernet99',
    message: 'Ethernet99 is neither a port nor a port-channel',
  },
  {
    rule: 'a port is untagged in one VLAN at most',
    breakIt: (db) => void (db['VLAN_MEMBER']!['Vlan20|PortChannel1'] = { tagging_mode: 'untagged' }),
    table: 'VLAN_MEMBER',
    key: 'Vlan20|PortChannel1',
    message: 'PortChannel1 is already an untagged member of Vlan10',
  },
  {
    rule: 'a port-channel member has no address of its own',
    breakIt: (db) => void (db['INTERFACE']!['Ethernet0|10.255.255.9/31'] = {}),
    table: 'INTERFACE',
    key: 'Ethernet0|10.255.255.9/31',
    message: 'Ethernet0 is a member of PortChannel1 and cannot have an address',
  },
];

describe('SONiC config_db rules', () => {
  it("accepts the lab ToR's config as rendered", () => {
    expect(checkConfigDb(configDb(tor))).toEqual([]);
  });

  it.each(CASES)('rejects a config that breaks "$rule"', ({ breakIt, table, key, message }) => {
    const db = configDb(tor);
    breakIt(db);
    expect(checkConfigDb(db)).toEqual([{ table, key, message }]);
  });

  it('gives every rule its own message', () => {
    expect(new Set(CASES.map((c) => c.message.replace(/[A-Za-z]+\d+/g, '<name>'))).size).toBe(CASES.length);
  });
});
