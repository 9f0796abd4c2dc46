// The validated region: what the planner reads. Every value here has passed the rules.
import type { NodeSku, SwitchModel } from './catalog.js';
import type { Mac } from './mac.js';
import type { Network } from './net.js';
import type { Manifest, ManifestUpstream } from './schema.js';

export interface RackNetwork {
  readonly net: Network;
  readonly rackPrefix: number;
}

export interface Upstream extends Omit<ManifestUpstream, 'peerAsn'> {
  readonly peerAsn: number;
}

export interface Switch {
  readonly name: string;
  readonly role: 'tor' | 'border' | 'mgmt';
  readonly rack: string;
  readonly model: SwitchModel;
  readonly mgmtMac: Mac;
  readonly upstreams: readonly Upstream[];
  readonly ssh: SwitchSsh;
}

/** How civostack logs in to a switch; the address defaults to the planned management address. */
export interface SwitchSsh {
  readonly address: string | undefined;
  readonly port: number;
  readonly user: string;
  /** As written in the manifest: relative to the manifest's folder. */
  readonly hostKeyFile: string | undefined;
}

export interface Nic {
  readonly name: string;
  readonly mac: Mac;
  readonly speed: number;
  readonly switch: string;
  readonly port: string;
}

/** How civostack reaches a node's BMC, rack defaults merged in. */
export interface BmcAccess {
  readonly protocol: 'redfish' | 'ipmi';
  /** As written in the manifest: relative to the manifest's folder. */
  readonly credentialsFile: string;
  /** Explicit address; undefined: the planned OOB address. */
  readonly address: number | undefined;
  readonly port: number | undefined;
  readonly insecureTls: boolean;
  readonly cipherSuite: number;
}

export interface Node {
  readonly name: string;
  readonly role: 'control-plane' | 'worker';
  readonly rack: string;
  readonly sku: NodeSku;
  readonly firmware: 'uefi' | 'bios';
  readonly bmcMac: Mac | undefined;
  readonly bmc: BmcAccess | undefined;
  /** The name this node had before, whose recorded allocations it takes over. */
  readonly renamedFrom: string | undefined;
  readonly nics: readonly Nic[];
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly string[];
}

export interface Uplink {
  readonly tor: string;
  readonly port: string;
  readonly border: string;
  readonly borderPort: string;
}

export interface Rack {
  readonly name: string;
  readonly tors: readonly [Switch, Switch];
  readonly mgmt: Switch | undefined;
  readonly borders: readonly Switch[];
  readonly nodes: readonly Node[];
  readonly uplinks: readonly Uplink[];
}

export interface Region {
  readonly file: string;
  readonly name: string;
  readonly domain: string;
  readonly manifest: Manifest;
  readonly networks: {
    readonly oob: RackNetwork & { readonly vlan: number };
    readonly provisioning: RackNetwork & { readonly vlan: number };
    readonly node: RackNetwork & { readonly vlan: number };
    readonly loopback: Network;
    readonly p2p: Network;
    readonly public: readonly Network[];
    readonly pods: Network;
    readonly services: Network;
  };
  readonly asn: {
    readonly border: number;
    readonly torBase: number;
    readonly scheme: 'per-rack' | 'per-tor';
  };
  readonly bootstrap: { readonly rack: string; readonly address: number; readonly httpPort: number };
  readonly apiVip: number;
  readonly racks: readonly Rack[];
  readonly switches: readonly Switch[];
  readonly nodes: readonly Node[];
}
