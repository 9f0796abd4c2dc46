// The SONiC config_db.json rules (checkConfigDb): the lab ToR's config passes, and each rule,
// given a config broken in exactly its way, reports exactly one problem with its own message.
// Then every switch's whole config_db.json: its tables, their fields, and the references
// between them.
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import type { SwitchPlan } from '../../src/plan/index.js';
import { checkConfigDb, configDb, type ConfigDb } from '../../src/render/index.js';
import { LAB, NYC1 } from '../helpers/manifest.js';
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

// The whole config_db.json of every switch, not one table at a time: which tables a device of
// each role has and which fields each entry carries, that every key naming another table's entry
// names one that exists (a referential-integrity check across tables), and that it says what the
// Plan says. A change that breaks a table other than the one it meant to change fails here.

/** Tables by role: a ToR pair runs MCLAG and the node VLANs; a border routes only; mgmt is L2. */
const ROLE_TABLES: Record<SwitchPlan['role'], readonly string[]> = {
  tor: [
    'BGP_NEIGHBOR',
    'DEVICE_METADATA',
    'INTERFACE',
    'LOOPBACK_INTERFACE',
    'MCLAG_DOMAIN',
    'MCLAG_INTERFACE',
    'MCLAG_UNIQUE_IP',
    'MGMT_INTERFACE',
    'MGMT_PORT',
    'MGMT_VRF_CONFIG',
    'PORT',
    'PORTCHANNEL',
    'PORTCHANNEL_MEMBER',
    'VLAN',
    'VLAN_INTERFACE',
    'VLAN_MEMBER',
  ],
  border: [
    'BGP_NEIGHBOR',
    'DEVICE_METADATA',
    'INTERFACE',
    'LOOPBACK_INTERFACE',
    'MGMT_INTERFACE',
    'MGMT_PORT',
    'MGMT_VRF_CONFIG',
    'PORT',
  ],
  mgmt: ['DEVICE_METADATA', 'MGMT_INTERFACE', 'MGMT_PORT', 'MGMT_VRF_CONFIG', 'PORT', 'VLAN', 'VLAN_MEMBER'],
};

/** Fields of each table's entries: required, then optional. An address entry ("Vlan10|…") has none. */
const FIELDS: Record<string, readonly [readonly string[], readonly string[]]> = {
  BGP_NEIGHBOR: [['admin_status', 'asn', 'holdtime', 'keepalive', 'local_addr', 'name', 'nhopself'], []],
  DEVICE_METADATA: [
    ['docker_routing_config_mode', 'hostname', 'hwsku', 'mac', 'platform', 'type'],
    ['bgp_asn'],
  ],
  MCLAG_DOMAIN: [['keepalive_interval', 'peer_ip', 'peer_link', 'session_timeout', 'source_ip'], []],
  MCLAG_INTERFACE: [['if_type'], []],
  MCLAG_UNIQUE_IP: [['unique_ip'], []],
  MGMT_INTERFACE: [['gwaddr'], []],
  MGMT_PORT: [['admin_status', 'alias', 'description'], []],
  MGMT_VRF_CONFIG: [['mgmtVrfEnabled'], []],
  PORT: [['admin_status', 'alias', 'fec', 'index', 'lanes', 'mtu', 'speed'], ['description']],
  PORTCHANNEL: [['admin_status', 'description', 'fallback', 'fast_rate', 'lacp_key', 'min_links', 'mtu'], []],
  PORTCHANNEL_MEMBER: [[], []],
  VLAN: [['description', 'vlanid'], ['dhcp_servers']],
  VLAN_MEMBER: [['tagging_mode'], []],
  INTERFACE: [[], []],
  LOOPBACK_INTERFACE: [[], []],
  VLAN_INTERFACE: [[], []],
};

/** Every way `db` is not a whole, consistent config for `sw`, one line each; empty when it is. */
function wholeConfigProblems(db: ConfigDb, sw: SwitchPlan): string[] {
  const out: string[] = [];
  const t = (name: string) => db[name] ?? {};
  const has = (table: string, key: string) => Object.hasOwn(t(table), key);
  const tables = Object.keys(db).sort();
  if (tables.join() !== [...ROLE_TABLES[sw.role]].sort().join())
    out.push(`tables ${tables.join(', ')} are not those of a ${sw.role}: ${ROLE_TABLES[sw.role].join(', ')}`);
  for (const [table, entries] of Object.entries(db)) {
    const [required, optional] = FIELDS[table] ?? [[], []];
    for (const [key, fields] of Object.entries(entries)) {
      const names = Object.keys(fields);
      for (const f of required) if (!names.includes(f)) out.push(`${table}|${key} lacks ${f}`);
      for (const f of names)
        if (!required.includes(f) && !optional.includes(f)) out.push(`${table}|${key} has ${f}`);
    }
  }
  const meta = t('DEVICE_METADATA')['localhost'];
  if (meta?.['hostname'] !== sw.name) out.push(`DEVICE_METADATA hostname is not ${sw.name}`);
  if ((meta?.['bgp_asn'] !== undefined) !== Object.keys(t('BGP_NEIGHBOR')).length > 0)
    out.push('DEVICE_METADATA has a bgp_asn exactly when BGP_NEIGHBOR has sessions');

  // Keys that name other tables' entries.
  const up = (port: string, what: string) => {
    if (!has('PORT', port)) out.push(`${what}: ${port} is not in PORT`);
    else if (t('PORT')[port]!['admin_status'] !== 'up') out.push(`${what}: ${port} is admin down`);
  };
  const members = new Map<string, number>();
  for (const key of Object.keys(t('PORTCHANNEL_MEMBER'))) {
    const [pc, port] = key.split('|') as [string, string];
    if (!has('PORTCHANNEL', pc)) out.push(`PORTCHANNEL_MEMBER ${key}: ${pc} is not in PORTCHANNEL`);
    up(port, `PORTCHANNEL_MEMBER ${key}`);
    members.set(pc, (members.get(pc) ?? 0) + 1);
  }
  for (const [pc, fields] of Object.entries(t('PORTCHANNEL')))
    if ((members.get(pc) ?? 0) < Number(fields['min_links']))
      out.push(`PORTCHANNEL ${pc} has fewer members than its min_links ${String(fields['min_links'])}`);
  for (const key of Object.keys(t('VLAN_MEMBER'))) {
    const [vlan, member] = key.split('|') as [string, string];
    if (!has('VLAN', vlan)) out.push(`VLAN_MEMBER ${key}: ${vlan} is not in VLAN`);
    if (!has('PORTCHANNEL', member)) up(member, `VLAN_MEMBER ${key}`);
  }
  const own: string[] = [];
  const addressed = (table: string, owner: (name: string) => boolean, bare: boolean) => {
    for (const key of Object.keys(t(table))) {
      const [name, cidr] = key.split('|') as [string, string | undefined];
      if (!owner(name)) out.push(`${table} ${key}: ${name} is not defined`);
      if (cidr === undefined) continue;
      if (!ipaddr.isValidCIDR(cidr)) out.push(`${table} ${key}: ${cidr} is not an address with prefix`);
      else own.push(cidr);
      if (bare && !has(table, name)) out.push(`${table} ${key}: no entry ${name} beside its address`);
    }
  };
  addressed('INTERFACE', (p) => has('PORT', p) && t('PORT')[p]!['admin_status'] === 'up', true);
  addressed('VLAN_INTERFACE', (v) => has('VLAN', v), true);
  addressed('LOOPBACK_INTERFACE', (l) => l === 'Loopback0', true);
  addressed('MGMT_INTERFACE', (m) => has('MGMT_PORT', m), false);
  const subnetOf = (ip: string) =>
    own.find((c) => {
      const [net, len] = ipaddr.parseCIDR(c);
      const addr = ipaddr.parse(ip);
      return addr.kind() === net.kind() && addr.match(net, len);
    });
  const isOwn = (ip: string) => own.some((c) => c.split('/')[0] === ip);
  for (const [domain, d] of Object.entries(t('MCLAG_DOMAIN'))) {
    if (!has('PORTCHANNEL', String(d['peer_link'])))
      out.push(`MCLAG_DOMAIN ${domain}: peer_link is not in PORTCHANNEL`);
    if (!isOwn(String(d['source_ip'])))
      out.push(`MCLAG_DOMAIN ${domain}: source_ip is none of this switch's addresses`);
    if (isOwn(String(d['peer_ip'])) || !subnetOf(String(d['peer_ip'])))
      out.push(`MCLAG_DOMAIN ${domain}: peer_ip is not a peer on one of this switch's subnets`);
  }
  for (const key of Object.keys(t('MCLAG_INTERFACE'))) {
    const [domain, pc] = key.split('|') as [string, string];
    if (!has('MCLAG_DOMAIN', domain))
      out.push(`MCLAG_INTERFACE ${key}: domain ${domain} is not in MCLAG_DOMAIN`);
    if (!has('PORTCHANNEL', pc)) out.push(`MCLAG_INTERFACE ${key}: ${pc} is not in PORTCHANNEL`);
  }
  for (const vlan of Object.keys(t('MCLAG_UNIQUE_IP')))
    if (!has('VLAN_INTERFACE', vlan)) out.push(`MCLAG_UNIQUE_IP ${vlan} is not in VLAN_INTERFACE`);
  for (const [peer, n] of Object.entries(t('BGP_NEIGHBOR'))) {
    if (!isOwn(String(n['local_addr'])))
      out.push(`BGP_NEIGHBOR ${peer}: local_addr is none of this switch's addresses`);
    if (!subnetOf(peer)) out.push(`BGP_NEIGHBOR ${peer} is on none of this switch's subnets`);
  }

  // What the Plan says, table by table.
  const same = (what: string, have: Iterable<string>, want: Iterable<string>) => {
    if ([...have].sort().join() !== [...want].sort().join()) out.push(`${what} differ from the Plan`);
  };
  same(
    'PORT names',
    Object.keys(t('PORT')),
    sw.ports.map((p) => p.name),
  );
  same(
    'PORT descriptions and states',
    Object.entries(t('PORT')).map(
      ([k, v]) => `${k} ${String(v['admin_status'])} ${String(v['description'])}`,
    ),
    sw.ports.map((p) => `${p.name} ${p.adminStatus} ${String(p.description || undefined)}`),
  );
  same(
    'PORTCHANNEL_MEMBER keys',
    Object.keys(t('PORTCHANNEL_MEMBER')),
    sw.portChannels.flatMap((pc) => pc.members.map((m) => `${pc.name}|${m}`)),
  );
  same(
    'VLAN_MEMBER entries',
    Object.entries(t('VLAN_MEMBER')).map(([k, v]) => `${k} ${String(v['tagging_mode'])}`),
    sw.vlans.flatMap((v) => v.members.map((m) => `${v.name}|${m.port} ${m.tagged ? 'tagged' : 'untagged'}`)),
  );
  same(
    'MCLAG_INTERFACE keys',
    Object.keys(t('MCLAG_INTERFACE')),
    sw.mclag ? sw.mclag.members.map((pc) => `${sw.mclag!.domainId}|${pc}`) : [],
  );
  same(
    'BGP_NEIGHBOR peers',
    Object.keys(t('BGP_NEIGHBOR')),
    sw.bgp.neighbors.map((n) => n.address),
  );
  same(
    'INTERFACE addresses',
    Object.keys(t('INTERFACE')).filter((k) => k.includes('|')),
    sw.interfaces.map((i) => `${i.port}|${i.address}`),
  );
  return out;
}

const REGIONS = [
  ['lab', LAB],
  ['nyc1', NYC1],
] as const;
const SWITCHES = REGIONS.flatMap(([region, file]) =>
  renderFile(file).plan.switches.map((sw) => ({ name: `${region} ${sw.name} (${sw.role})`, sw })),
);

describe('SONiC config_db.json as a whole', () => {
  it('covers a switch of every role', () => {
    expect(new Set(SWITCHES.map((s) => s.sw.role))).toEqual(new Set(['tor', 'border', 'mgmt']));
  });

  it.each(SWITCHES)('is whole and consistent across its tables on $name', ({ sw }) => {
    expect(wholeConfigProblems(configDb(sw), sw)).toEqual([]);
  });

  // Breaks checkConfigDb does not look for: each must show in the whole-config check.
  const BREAKS: readonly {
    readonly what: string;
    readonly breakIt: (db: ConfigDb) => void;
    readonly problem: string;
  }[] = [
    {
      what: 'a table dropped',
      breakIt: (db) => void delete db['MCLAG_UNIQUE_IP'],
      problem: 'are not those of a tor',
    },
    {
      what: 'a field dropped',
      breakIt: (db) => void delete db['PORTCHANNEL']!['PortChannel1']!['min_links'],
      problem: 'PORTCHANNEL|PortChannel1 lacks min_links',
    },
    {
      what: 'an MCLAG interface on an undefined port-channel',
      breakIt: (db) =>
        void (db['MCLAG_INTERFACE']![`${tor.mclag!.domainId}|PortChannel77`] = { if_type: 'PortChannel' }),
      problem: 'PortChannel77 is not in PORTCHANNEL',
    },
    {
      what: 'an SVI address without its VLAN entry',
      breakIt: (db) => void delete db['VLAN_INTERFACE']!['Vlan10'],
      problem: 'no entry Vlan10 beside its address',
    },
    {
      what: 'a BGP session from an address the switch does not have',
      breakIt: (db) => {
        const [peer] = Object.keys(db['BGP_NEIGHBOR']!);
        db['BGP_NEIGHBOR']![peer!]!['local_addr'] = '192.0.2.1';
      },
      problem: "local_addr is none of this switch's addresses",
    },
    {
      what: 'a port-channel member port shut',
      breakIt: (db) => void (db['PORT']!['Ethernet0']!['admin_status'] = 'down'),
      problem: 'Ethernet0 is admin down',
    },
    {
      what: 'a VLAN member the Plan does not have',
      breakIt: (db) => void (db['VLAN_MEMBER']!['Vlan20|Ethernet10'] = { tagging_mode: 'tagged' }),
      problem: 'VLAN_MEMBER entries differ from the Plan',
    },
  ];

  it.each(BREAKS)(
    'catches $what on the lab ToR, which checkConfigDb lets through',
    ({ breakIt, problem }) => {
      const db = configDb(tor);
      breakIt(db);
      expect(checkConfigDb(db)).toEqual([]);
      expect(wholeConfigProblems(db, tor).join('\n')).toContain(problem);
    },
  );
});
