// The rack manifest's shape, as a zod schema: the single source of the Region types and the JSON Schema.
// Formats that deserve a precise hint (MACs, CIDRs, ASNs, addresses, DNS names, labels, taints) are
// checked by the rules, not here.
import { z } from 'zod';
import { DNS_NAME_PATTERN } from './dns-name.js';

const name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label: lower-case letters, digits and "-"')
  .describe('A DNS label: lower-case letters, digits and hyphens, at most 63 characters.');
const mac = z.string().describe('A MAC address: aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF or aabb.ccdd.eeff.');
const cidr = z.string().describe('An IPv4 network, e.g. 10.20.0.0/16.');
const ipv4 = z.string().describe('An IPv4 address, e.g. 10.10.0.2.');
const asn = z.union([z.number().int(), z.string()]).describe('An ASN, asplain (65001) or asdot (1.10).');
const fileRef = z.string().min(1).describe('A path relative to the manifest file.');
const vlanId = z.number().int().min(1).max(4094);
// The pattern is for editors; the rules check DNS names and say what is wrong.
const dnsName = (description: string) =>
  z.string().meta({ pattern: DNS_NAME_PATTERN, maxLength: 253, description });

const rackNetwork = z.strictObject({
  cidr,
  rackPrefix: z.number().int().min(8).max(30).describe('Prefix length of the subnet each rack gets.'),
});
const vlanNetwork = rackNetwork.extend({ vlan: vlanId });

export const networksSchema = z.strictObject({
  oob: rackNetwork
    .extend({ vlan: vlanId.default(100).describe('Access VLAN of the management switch.') })
    .describe('BMCs and switch management ports, one subnet per rack.'),
  provisioning: vlanNetwork.describe(
    'Untagged PXE network on the server port-channels, one subnet per rack.',
  ),
  node: vlanNetwork.describe('Tagged node network, one subnet per rack; gateway on the ToR SVIs.'),
  loopback: cidr.describe('Pool of /32 loopbacks for switches and routers.'),
  p2p: cidr.describe('Pool of /31s for fabric links and MCLAG peer links.'),
  public: z.array(cidr).min(1).describe('Public aggregates the border routers announce to transit.'),
  pods: cidr.describe('Kubernetes pod CIDR.'),
  services: cidr.describe('Kubernetes service CIDR.'),
});

const nicSchema = z.strictObject({
  mac,
  switch: name.optional().describe('ToR this NIC is cabled to; default: nic0 → first ToR, nic1 → second.'),
  port: z.string().optional().describe("Port on that switch; default: by the node's slot."),
});

// A node's BMC. Every field but `address` may come from the rack's `bmc` defaults; the node's own win.
const bmcFields = {
  protocol: z
    .enum(['redfish', 'ipmi'])
    .describe('How civostack talks to the BMC: Redfish over HTTPS, or IPMI 2.0 (lanplus).'),
  credentialsFile: fileRef.describe(
    'YAML file `{ username, password }`, mode 0600, relative to the manifest. Never printed or put on a command line.',
  ),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .describe('Redfish HTTPS port (default 443) or IPMI UDP port (default 623).'),
  insecureTls: z
    .boolean()
    .describe('Redfish: accept a self-signed or otherwise unverifiable certificate. Default false.'),
  cipherSuite: z
    .number()
    .int()
    .min(0)
    .max(17)
    .describe('IPMI: the lanplus cipher suite (`ipmitool -C`). Default 17.'),
};
const bmcDefaultsSchema = z
  .strictObject(bmcFields)
  .partial()
  .describe("Defaults for the BMCs of this rack's nodes.");
const bmcSchema = z
  .strictObject({
    ...bmcFields,
    address: ipv4.describe(
      "The BMC's address; default: the node's planned address on the rack's OOB network (needs bmcMac).",
    ),
  })
  .partial()
  .describe(
    'How civostack powers the node and sets its boot device; without it, the node is powered by hand.',
  );

export const nodeSchema = z.strictObject({
  name,
  role: z.enum(['control-plane', 'worker']),
  sku: z.string().describe('A node SKU from the hardware catalog.'),
  slot: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Rack slot; cables nic N to the slot-th server port of ToR N.'),
  bmcMac: mac.optional(),
  bmc: bmcSchema.optional(),
  renamedFrom: name
    .optional()
    .describe(
      "The node's previous name: its recorded addresses, PortChannel and BMC address move to the new name instead of being allocated afresh.",
    ),
  nics: z.array(nicSchema).min(1),
  labels: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      'Kubernetes labels, e.g. example.com/pool: fast; not in the kubernetes.io or k8s.io namespaces kubelet may not set.',
    ),
  taints: z
    .array(z.string())
    .optional()
    .describe('Kubernetes taints as key[=value]:Effect, e.g. example.com/dedicated=storage:NoSchedule.'),
});

const upstreamSchema = z.strictObject({
  name,
  port: z.string().describe('Port on the border router.'),
  address: z.string().describe('Our side of the link, with prefix length, e.g. 198.51.100.1/31.'),
  peerAddress: ipv4,
  peerAsn: asn,
  passwordFile: fileRef
    .optional()
    .describe('File holding the session password; generated into state when absent.'),
  maxPrefixes: z.number().int().min(1).default(10),
  acceptFullTable: z.boolean().default(false),
});

// How civostack reaches a switch over SSH for `region diff --live` and the fabric phase.
const switchSshSchema = z
  .strictObject({
    address: ipv4
      .optional()
      .describe("The switch's management address; default: its planned address on the rack's OOB network."),
    port: z.number().int().min(1).max(65535).default(22),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, 'must be a Unix user name')
      .default('admin')
      .describe("Login user (SONiC's is admin); civostack's own SSH key must be authorised for it."),
    hostKeyFile: fileRef
      .optional()
      .describe(
        "OpenSSH public key line(s) the switch must present (pinned); default: the state folder's host-keys/<switch>.pub, which the fabric lab writes.",
      ),
  })
  .describe('SSH access to the switch for the live diff and the fabric phase.');

export const switchSchema = z.strictObject({
  name,
  role: z.enum(['tor', 'border', 'mgmt']),
  model: z.string().describe('A switch model from the hardware catalog.'),
  mgmtMac: mac,
  upstreams: z.array(upstreamSchema).optional().describe('Transit sessions; border routers only.'),
  ssh: switchSshSchema.optional(),
});

const uplinkSchema = z.strictObject({
  switch: name.describe('ToR name.'),
  port: z.string(),
  border: name.describe('Border router name.'),
  borderPort: z.string(),
});

export const rackSchema = z.strictObject({
  name,
  switches: z.array(switchSchema).min(1),
  uplinks: z.array(uplinkSchema).default([]).describe('ToR ↔ border router cables.'),
  bmc: bmcDefaultsSchema.optional(),
  nodes: z.array(nodeSchema).default([]),
});

const osSchema = z.strictObject({
  profile: z.enum(['lab-debian', 'custom']).default('custom'),
  image: z
    .strictObject({
      source: z
        .string()
        .describe(
          'URL or path of the raw disk image, optionally compressed: .gz (gzip), .zst (zstd) or .lzo (lzop).',
        ),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
      rootPartition: z
        .number()
        .int()
        .min(1)
        .max(128)
        .default(1)
        .describe('Partition holding the root file system.'),
    })
    .optional(),
  installer: z.strictObject({ kernel: z.string(), initrd: z.string() }).optional(),
  firmware: z.enum(['uefi', 'bios']).optional().describe("Overrides the SKU's boot firmware."),
  sshAuthorizedKeys: z.array(z.string()).default([]),
  sshAuthorizedKeyFiles: z.array(fileRef).default([]),
  nameservers: z.array(ipv4).default([]),
});

const kubernetesSchema = z.strictObject({
  distribution: z
    .enum(['k3s', 'kubeadm'])
    .default('k3s')
    .describe('k3s (the production default) or kubeadm (upstream Kubernetes, what the lab builds).'),
  version: z
    .string()
    .regex(
      /^v\d+\.\d+\.\d+(\+k3s\d+)?$/,
      'must be a release such as v1.31.4+k3s1 (k3s) or v1.35.4 (kubeadm)',
    ),
  apiVip: ipv4.describe('Virtual IP of the Kubernetes API, on the node network.'),
  airgap: fileRef
    .optional()
    .describe(
      'Artifact folder: the K3s binary, images tarball and install script (k3s), or the folder `civostack kube artifacts` builds (kubeadm).',
    ),
  clusterDomain: dnsName("The cluster's DNS domain (kubelet, CoreDNS).").default('cluster.local'),
});

const operatorSchema = z.strictObject({
  image: z.string(),
  bundle: fileRef.optional(),
  values: z.record(z.string(), z.unknown()).default({}),
});

export const manifestSchema = z.strictObject({
  apiVersion: z.literal('civostack.io/v1alpha1'),
  kind: z.literal('Region'),
  region: z.strictObject({
    name,
    domain: dnsName("The region's DNS domain: node FQDNs are <node>.<domain>, the API's is api.<domain>."),
  }),
  bootstrap: z.strictObject({
    rack: name.describe('Rack whose provisioning subnet holds the bootstrap host.'),
    address: ipv4,
    httpPort: z.number().int().min(1).max(65535).default(8080),
  }),
  networks: networksSchema,
  asn: z.strictObject({
    border: asn.describe("ASN of the border routers (the region's ASN toward transit)."),
    torBase: asn.describe('First private ASN handed to ToRs.'),
    scheme: z.enum(['per-rack', 'per-tor']).default('per-rack'),
  }),
  os: osSchema,
  kubernetes: kubernetesSchema,
  operator: operatorSchema.optional(),
  hardware: z.array(fileRef).default([]).describe('Extra hardware catalog folders beside the built-in one.'),
  racks: z.array(rackSchema).min(1),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestRack = Manifest['racks'][number];
export type ManifestSwitch = ManifestRack['switches'][number];
export type ManifestNode = ManifestRack['nodes'][number];
export type ManifestBmc = NonNullable<ManifestNode['bmc']>;
export type ManifestUpstream = NonNullable<ManifestSwitch['upstreams']>[number];

export function manifestJsonSchema(): unknown {
  return z.toJSONSchema(manifestSchema, { io: 'input', target: 'draft-2020-12' });
}
