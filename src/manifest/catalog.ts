// The hardware catalog: switch models (port maps with lanes and speeds) and node SKUs.
import { z } from 'zod';

const portSchema = z.strictObject({
  name: z.string().regex(/^Ethernet\d+$/, 'SONiC port names are Ethernet<N>'),
  lanes: z.string().regex(/^\d+(,\d+)*$/),
  speed: z.number().int().positive().describe('Mb/s'),
  alias: z.string(),
  index: z.number().int().nonnegative(),
});

export const switchModelSchema = z.strictObject({
  kind: z.literal('SwitchModel'),
  name: z.string(),
  vendor: z.string(),
  platform: z.string(),
  hwsku: z.string(),
  mtu: z.number().int().min(1500).max(9216).default(9100),
  ports: z.array(portSchema).min(1),
  serverPorts: z.array(z.string()).default([]).describe('Ports for servers, in slot order.'),
  uplinkPorts: z.array(z.string()).default([]),
  peerLinkPorts: z.array(z.string()).default([]).describe('Ports bundled into the MCLAG peer link.'),
});

export const nodeSkuSchema = z.strictObject({
  kind: z.literal('NodeSku'),
  // Every node of the SKU carries it as the label civostack.io/sku: a Kubernetes label value.
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
      'must be a Kubernetes label value (nodes carry it as civostack.io/sku): at most 63 letters, digits, "-", "_" and ".", with a letter or digit at each end',
    ),
  vendor: z.string(),
  firmware: z.enum(['uefi', 'bios']),
  // It reaches the installer's kernel command line (civostack.disk=…): one word, a device path.
  disk: z
    .string()
    .regex(
      /^\/dev\/[A-Za-z0-9._:/+=@,-]+$/,
      'must be a device path such as /dev/sda or /dev/disk/by-id/nvme-…: letters, digits and . _ : / + = @ , - only',
    )
    .describe('Install target, e.g. /dev/sda or /dev/nvme0n1.'),
  // netplan renames each NIC to it (set-name): a Linux interface name, 15 characters at most.
  nics: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(
            /^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$/,
            'must be a Linux interface name: at most 15 letters, digits, "_" and "-", starting with a letter or digit',
          ),
        speed: z.number().int().positive(),
      }),
    )
    .min(1),
});

export const catalogEntrySchema = z.discriminatedUnion('kind', [switchModelSchema, nodeSkuSchema]);

export type SwitchModel = z.infer<typeof switchModelSchema>;
export type SwitchPort = SwitchModel['ports'][number];
export type NodeSku = z.infer<typeof nodeSkuSchema>;

export interface Catalog {
  readonly switches: ReadonlyMap<string, SwitchModel>;
  readonly skus: ReadonlyMap<string, NodeSku>;
}
