// The Plan: the one intermediate model every renderer reads. Every address, ASN, port and cable
// is resolved here; renderers only lay it out. Plain data, JSON-serialisable.

export interface Subnet {
  /** "10.101.0.0/24" */
  readonly cidr: string;
  readonly gateway: string;
  readonly prefix: number;
}

export interface RackPlan {
  readonly name: string;
  readonly asn: number;
  readonly oob: Subnet & { readonly vlan: number };
  readonly provisioning: Subnet & { readonly vlan: number };
  readonly node: Subnet & { readonly vlan: number };
  readonly tors: readonly [string, string];
  readonly mgmt: string | undefined;
  /** The DHCP relay target for this rack's provisioning VLAN, when the bootstrap host is elsewhere. */
  readonly dhcpRelay: string | undefined;
}

export interface NodeNicPlan {
  readonly name: string;
  readonly mac: string;
  readonly speed: number;
  readonly switch: string;
  readonly port: string;
}

/** How civostack drives a node's BMC. The credentials stay in their file; the Plan names it only. */
export interface BmcAccessPlan {
  readonly protocol: 'redfish' | 'ipmi';
  /** As written in the manifest: relative to the manifest's folder. */
  readonly credentialsFile: string;
  /** Redfish HTTPS port (default 443) or IPMI UDP port (default 623) when the manifest sets one. */
  readonly port: number | undefined;
  readonly insecureTls: boolean;
  readonly cipherSuite: number;
}

export interface BmcPlan {
  /** For the OOB DHCP reservation; undefined when the manifest gives the address but no bmcMac. */
  readonly mac: string | undefined;
  /** The manifest's bmc.address, else the node's planned address on the rack's OOB network. */
  readonly address: string;
  /** Undefined when the manifest gives no BMC credentials: the node is powered by hand. */
  readonly access: BmcAccessPlan | undefined;
}

export interface NodePlan {
  readonly name: string;
  /** The node's previous name (manifest `renamedFrom`): its recorded state moves to this one. */
  readonly renamedFrom?: string;
  readonly fqdn: string;
  readonly rack: string;
  readonly role: 'control-plane' | 'worker';
  readonly sku: string;
  readonly firmware: 'uefi' | 'bios';
  readonly disk: string;
  readonly bmc: BmcPlan | undefined;
  readonly nics: readonly NodeNicPlan[];
  readonly bond: {
    readonly name: string;
    readonly mode: '802.3ad';
    readonly members: readonly string[];
    readonly mtu: number;
  };
  /** Untagged on the bond: PXE before install, the provisioning address after. */
  readonly provisioning: { readonly address: string; readonly prefix: number; readonly cidr: string };
  /** Tagged VLAN on the bond: the node's main address and default route. */
  readonly node: {
    readonly interface: string;
    readonly vlan: number;
    readonly address: string;
    readonly prefix: number;
    readonly gateway: string;
    readonly cidr: string;
  };
  /** PortChannel number on both ToRs (MCLAG interfaces must match across the pair). */
  readonly portChannel: number;
  readonly k3s: { readonly role: 'server' | 'agent'; readonly clusterInit: boolean };
  /** This node's pod range (a block of the pods network, recorded): CNI's host-local range and the routes to it. */
  readonly podCidr: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly string[];
}

export interface PortPlan {
  readonly name: string;
  readonly lanes: string;
  readonly speed: number;
  readonly alias: string;
  readonly index: number;
  readonly mtu: number;
  readonly adminStatus: 'up' | 'down';
  readonly description: string;
  readonly fec: 'rs' | 'none';
}

export interface PortChannelPlan {
  readonly name: string;
  readonly members: readonly string[];
  readonly mtu: number;
  readonly fallback: boolean;
  readonly minLinks: number;
  readonly description: string;
  readonly mclag: boolean;
}

export interface VlanPlan {
  readonly id: number;
  readonly name: string;
  readonly description: string;
  readonly members: readonly { readonly port: string; readonly tagged: boolean }[];
  /** SVI address with prefix, same on both ToRs of the pair (MCLAG layer-3 gateway). */
  readonly address: string | undefined;
  readonly dhcpServers: readonly string[];
}

export interface RoutedInterfacePlan {
  readonly port: string;
  readonly address: string;
  readonly peer: string;
  readonly peerAddress: string;
  readonly description: string;
}

export interface BgpNeighborPlan {
  readonly address: string;
  readonly asn: number;
  readonly name: string;
  readonly localAddress: string;
  readonly kind: 'fabric' | 'transit';
  /** Transit only: where the session password comes from. Never the password itself. */
  readonly password?: { readonly secret: string };
  readonly maxPrefixes?: number;
  readonly acceptFullTable?: boolean;
}

/**
 * What a switch accepts from and announces to its BGP neighbours: explicit both ways (RFC 8212). The
 * FRR render writes it as prefix lists and route maps; the fabric lab's checks judge routes against it.
 */
export interface BgpPolicyPlan {
  /** From fabric neighbours: the default route (ToRs only), and anything within the internal ranges. */
  readonly fabricImport: { readonly defaultRoute: boolean; readonly within: readonly string[] };
  /** To fabric neighbours: a ToR its own networks exactly; a border router the default route alone. */
  readonly fabricExport: { readonly defaultRoute: boolean; readonly exact: readonly string[] };
  /** Border routers only: the policy towards every transit session. */
  readonly transit: TransitPolicyPlan | undefined;
}

export interface TransitPolicyPlan {
  /** Announced to transit, exactly: the region's public aggregates. */
  readonly export: readonly string[];
  /** Dropped from transit: anything within a bogon range (RFC 7454 §6.1.1). */
  readonly rejectBogons: readonly string[];
  /** Dropped from transit: anything within the region's own aggregates. */
  readonly rejectOwn: readonly string[];
  /** Dropped from transit: anything longer than this (RFC 7454 §6.1.3). */
  readonly maxPrefixLength: number;
  /** The default route is always accepted; a session with acceptFullTable takes the rest that is not dropped. */
  readonly acceptDefault: true;
  /** The border announces the default to the fabric only while it holds a route from one of these ASNs. */
  readonly upstreamAsns: readonly number[];
}

export interface SwitchPlan {
  readonly name: string;
  readonly role: 'tor' | 'border' | 'mgmt';
  readonly rack: string;
  readonly model: string;
  readonly hwsku: string;
  readonly platform: string;
  readonly mac: string;
  readonly mtu: number;
  readonly mgmt: { readonly address: string; readonly prefix: number; readonly gateway: string };
  /** Where `region diff --live` and the fabric phase log in: the management address unless overridden. */
  readonly ssh: {
    readonly address: string;
    readonly port: number;
    readonly user: string;
    /** Relative to the manifest; absent: the state folder's host-keys/<switch>.pub. */
    readonly hostKeyFile: string | undefined;
  };
  readonly asn: number | undefined;
  readonly loopback: string | undefined;
  readonly ports: readonly PortPlan[];
  readonly portChannels: readonly PortChannelPlan[];
  readonly vlans: readonly VlanPlan[];
  readonly interfaces: readonly RoutedInterfacePlan[];
  readonly bgp: {
    readonly neighbors: readonly BgpNeighborPlan[];
    /** Prefixes this device originates into BGP. */
    readonly networks: readonly string[];
    /** Undefined on a management switch, which speaks no BGP. */
    readonly policy: BgpPolicyPlan | undefined;
  };
  readonly mclag:
    | {
        readonly domainId: number;
        readonly sourceIp: string;
        readonly peerIp: string;
        readonly peerLink: string;
        readonly keepaliveVlan: number;
        readonly members: readonly string[];
        readonly fallbackOwner: boolean;
      }
    | undefined;
}

export interface LinkPlan {
  readonly kind: 'server' | 'uplink' | 'peer-link' | 'transit';
  readonly a: { readonly device: string; readonly port: string; readonly address?: string };
  readonly b: { readonly device: string; readonly port: string; readonly address?: string };
  readonly subnet?: string;
}

export interface DhcpReservation {
  readonly network: 'provisioning' | 'oob';
  readonly rack: string;
  readonly host: string;
  readonly macs: readonly string[];
  readonly address: string;
  readonly kind: 'node' | 'bmc' | 'switch';
  /** Switches only: boots ONIE/SONiC ZTP from the boot server. */
  readonly ztp: boolean;
}

export interface Plan {
  readonly apiVersion: 'civostack.io/v1alpha1';
  readonly kind: 'Plan';
  readonly region: { readonly name: string; readonly domain: string };
  readonly bootstrap: {
    readonly rack: string;
    readonly address: string;
    readonly httpPort: number;
    readonly url: string;
  };
  readonly networks: {
    readonly oob: string;
    readonly provisioning: string;
    readonly node: string;
    readonly loopback: string;
    readonly p2p: string;
    readonly public: readonly string[];
    readonly pods: string;
    readonly services: string;
  };
  readonly racks: readonly RackPlan[];
  readonly nodes: readonly NodePlan[];
  readonly switches: readonly SwitchPlan[];
  readonly links: readonly LinkPlan[];
  readonly dhcp: readonly DhcpReservation[];
  readonly kubernetes: {
    readonly distribution: 'k3s' | 'kubeadm';
    readonly version: string;
    readonly airgap: string | undefined;
    readonly apiVip: string;
    readonly apiHost: string;
    readonly tlsSan: readonly string[];
    readonly initServer: string;
    readonly servers: readonly string[];
    readonly agents: readonly string[];
    readonly clusterCidr: string;
    readonly serviceCidr: string;
    readonly clusterDomain: string;
  };
  readonly os: {
    readonly profile: 'lab-debian' | 'custom';
    readonly image:
      { readonly source: string; readonly sha256: string; readonly rootPartition: number } | undefined;
    readonly installer: { readonly kernel: string; readonly initrd: string } | undefined;
    readonly sshAuthorizedKeys: readonly string[];
    readonly sshAuthorizedKeyFiles: readonly string[];
    readonly nameservers: readonly string[];
  };
  /** Secrets the region needs, by name; values live only in the state's secrets folder. */
  readonly secrets: readonly {
    readonly name: string;
    readonly source: 'file' | 'generated';
    readonly file?: string;
    /** What a generated value looks like: a password (default), a kubeadm bootstrap token, 32 bytes hex, or an 8-character VRRP password. */
    readonly format?: SecretFormat;
  }[];
}

export type SecretFormat = 'password' | 'kubeadm-token' | 'hex32' | 'vrrp';
