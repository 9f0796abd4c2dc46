// SONiC config_db.json for ToRs, border routers and management switches.
// Built as data and serialised with sorted keys rather than templated: JSON from a template is one
// stray comma away from a switch that will not load its config. SONiC wants every value a string.
import type { SwitchPlan } from '../plan/index.js';

type Table = Record<string, Record<string, string | string[]>>;
export type ConfigDb = Record<string, Table>;

const DEVICE_TYPE: Record<SwitchPlan['role'], string> = {
  tor: 'ToRRouter',
  border: 'SpineRouter',
  mgmt: 'BmcMgmtToRRouter',
};

export function configDb(sw: SwitchPlan): ConfigDb {
  const db: ConfigDb = {};
  const table = (name: string): Table => (db[name] ??= {});

  table('DEVICE_METADATA')['localhost'] = {
    hostname: sw.name,
    hwsku: sw.hwsku,
    platform: sw.platform,
    mac: sw.mac,
    type: DEVICE_TYPE[sw.role],
    // FRR reads frr.conf as rendered; bgpcfgd does not generate it from BGP_NEIGHBOR.
    docker_routing_config_mode: 'split',
    ...(sw.asn !== undefined ? { bgp_asn: String(sw.asn) } : {}),
  };

  for (const p of sw.ports) {
    table('PORT')[p.name] = {
      lanes: p.lanes,
      speed: String(p.speed),
      mtu: String(p.mtu),
      alias: p.alias,
      index: String(p.index),
      admin_status: p.adminStatus,
      fec: p.fec,
      ...(p.description ? { description: p.description } : {}),
    };
  }

  for (const pc of sw.portChannels) {
    table('PORTCHANNEL')[pc.name] = {
      admin_status: 'up',
      mtu: String(pc.mtu),
      min_links: String(pc.minLinks),
      lacp_key: 'auto',
      fallback: pc.fallback ? 'true' : 'false',
      fast_rate: 'true',
      description: pc.description,
    };
    for (const m of pc.members) table('PORTCHANNEL_MEMBER')[`${pc.name}|${m}`] = {};
  }

  for (const v of sw.vlans) {
    table('VLAN')[v.name] = {
      vlanid: String(v.id),
      description: v.description,
      ...(v.dhcpServers.length > 0 ? { dhcp_servers: [...v.dhcpServers] } : {}),
    };
    for (const m of v.members)
      table('VLAN_MEMBER')[`${v.name}|${m.port}`] = { tagging_mode: m.tagged ? 'tagged' : 'untagged' };
    if (v.address) {
      table('VLAN_INTERFACE')[v.name] = {};
      table('VLAN_INTERFACE')[`${v.name}|${v.address}`] = {};
    }
  }

  if (sw.loopback) {
    table('LOOPBACK_INTERFACE')['Loopback0'] = {};
    table('LOOPBACK_INTERFACE')[`Loopback0|${sw.loopback}/32`] = {};
  }
  for (const i of sw.interfaces) {
    table('INTERFACE')[i.port] = {};
    table('INTERFACE')[`${i.port}|${i.address}`] = {};
  }

  if (sw.mclag) {
    table('MCLAG_DOMAIN')[String(sw.mclag.domainId)] = {
      source_ip: sw.mclag.sourceIp,
      peer_ip: sw.mclag.peerIp,
      peer_link: sw.mclag.peerLink,
      session_timeout: '15',
      keepalive_interval: '1',
    };
    for (const pc of sw.mclag.members)
      table('MCLAG_INTERFACE')[`${sw.mclag.domainId}|${pc}`] = { if_type: 'PortChannel' };
    // The keepalive VLAN has one address per peer; the gateway SVIs are the same on both.
    table('MCLAG_UNIQUE_IP')[`Vlan${sw.mclag.keepaliveVlan}`] = { unique_ip: 'enable' };
  }

  table('MGMT_PORT')['eth0'] = { admin_status: 'up', alias: 'eth0', description: 'oob' };
  table('MGMT_INTERFACE')[`eth0|${sw.mgmt.address}/${sw.mgmt.prefix}`] = { gwaddr: sw.mgmt.gateway };
  table('MGMT_VRF_CONFIG')['vrf_global'] = { mgmtVrfEnabled: 'true' };

  for (const n of sw.bgp.neighbors) {
    table('BGP_NEIGHBOR')[n.address] = {
      asn: String(n.asn),
      name: n.name,
      local_addr: n.localAddress,
      admin_status: 'up',
      holdtime: n.kind === 'fabric' ? '9' : '180',
      keepalive: n.kind === 'fabric' ? '3' : '60',
      nhopself: '0',
    };
  }
  return db;
}

export interface ConfigDbProblem {
  readonly table: string;
  readonly key: string;
  readonly message: string;
}

/**
 * The rules SONiC enforces when it loads a config (its YANG models and orchagent), checked before
 * a file is written: a switch that rejects its config at boot is a truck roll.
 */
export function checkConfigDb(db: ConfigDb): ConfigDbProblem[] {
  const problems: ConfigDbProblem[] = [];
  const add = (table: string, key: string, message: string): void =>
    void problems.push({ table, key, message });
  const ports = db['PORT'] ?? {};
  const pcs = db['PORTCHANNEL'] ?? {};
  const isString = (v: unknown) =>
    typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
  for (const [tableName, table] of Object.entries(db)) {
    for (const [key, fields] of Object.entries(table)) {
      for (const [field, value] of Object.entries(fields)) {
        if (!isString(value)) add(tableName, key, `${field} must be a string`);
      }
    }
  }
  for (const [name, vlan] of Object.entries(db['VLAN'] ?? {})) {
    if (name !== `Vlan${String(vlan['vlanid'])}`)
      add('VLAN', name, `vlanid ${String(vlan['vlanid'])} does not match the VLAN name`);
  }
  const lagOf = new Map<string, string>();
  for (const key of Object.keys(db['PORTCHANNEL_MEMBER'] ?? {})) {
    const [pc, port] = key.split('|') as [string, string];
    if (!(pc in pcs)) add('PORTCHANNEL_MEMBER', key, `${pc} is not defined in PORTCHANNEL`);
    if (!(port in ports)) add('PORTCHANNEL_MEMBER', key, `${port} is not defined in PORT`);
    if (lagOf.has(port)) add('PORTCHANNEL_MEMBER', key, `${port} is already a member of ${lagOf.get(port)}`);
    lagOf.set(port, pc);
    if (ports[port] && pcs[pc] && ports[port]['mtu'] !== pcs[pc]['mtu']) {
      add(
        'PORTCHANNEL_MEMBER',
        key,
        `${port} has MTU ${String(ports[port]['mtu'])} but ${pc} has ${String(pcs[pc]['mtu'])}`,
      );
    }
  }
  const untagged = new Map<string, string>();
  for (const [key, member] of Object.entries(db['VLAN_MEMBER'] ?? {})) {
    const [vlan, port] = key.split('|') as [string, string];
    if (!(vlan in (db['VLAN'] ?? {}))) add('VLAN_MEMBER', key, `${vlan} is not defined in VLAN`);
    if (lagOf.has(port))
      add('VLAN_MEMBER', key, `${port} is a member of ${lagOf.get(port)} and cannot be a VLAN member`);
    if (!(port in ports) && !(port in pcs))
      add('VLAN_MEMBER', key, `${port} is neither a port nor a port-channel`);
    if (member['tagging_mode'] === 'untagged') {
      if (untagged.has(port))
        add('VLAN_MEMBER', key, `${port} is already an untagged member of ${untagged.get(port)}`);
      untagged.set(port, vlan);
    }
  }
  for (const key of Object.keys(db['INTERFACE'] ?? {})) {
    const port = key.split('|')[0]!;
    if (lagOf.has(port))
      add('INTERFACE', key, `${port} is a member of ${lagOf.get(port)} and cannot have an address`);
  }
  return problems;
}
