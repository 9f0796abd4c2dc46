// BMCs: a protocol and a credentials file (0600) for every node that has a BMC section, here or in its
// rack's defaults, and an address: explicit, or planned on the OOB network from the node's bmcMac.
import { contains, ipToInt, isIpv4, networkOf, parseCidr, type Cidr } from '../net.js';
import type { ManifestBmc } from '../schema.js';
import { checkIp } from './formats.js';
import type { Rule } from './context.js';

/**
 * The node's BMC settings with its rack's defaults under them. Rack defaults reach the nodes that have
 * a BMC (a bmcMac or a bmc section of their own); a node with neither is powered by hand.
 */
export function mergedBmc(
  rack: { readonly bmc?: Partial<ManifestBmc> | undefined },
  node: { readonly bmc?: ManifestBmc | undefined; readonly bmcMac?: string | undefined },
): ManifestBmc | undefined {
  if (node.bmc === undefined && (rack.bmc === undefined || node.bmcMac === undefined)) return undefined;
  return { ...rack.bmc, ...node.bmc };
}

export const bmcs: Rule = (ctx) => {
  const oob = parseCidr(ctx.manifest.networks.oob.cidr);
  ctx.manifest.racks.forEach((rack, r) =>
    rack.nodes.forEach((node, i) => {
      const bmc = mergedBmc(rack, node);
      if (bmc === undefined) return;
      const at = ['racks', r, 'nodes', i];
      const own = (field: keyof ManifestBmc) =>
        node.bmc?.[field] !== undefined ? [...at, 'bmc', field] : ['racks', r, 'bmc', field];
      if (bmc.protocol === undefined)
        ctx.error(
          [...at, node.bmc ? 'bmc' : 'name'],
          'bmc-protocol-missing',
          `${node.name}'s BMC has no protocol`,
          "set bmc.protocol to redfish or ipmi, on the node or in the rack's bmc defaults",
        );
      if (bmc.credentialsFile === undefined)
        ctx.error(
          [...at, node.bmc ? 'bmc' : 'name'],
          'bmc-credentials-missing',
          `${node.name}'s BMC has no credentialsFile`,
          'name a YAML file with `username:` and `password:` (mode 0600), relative to the manifest',
        );
      // A lab generates its BMC emulators' credentials when the file is missing.
      else
        ctx.needFile(
          own('credentialsFile'),
          bmc.credentialsFile,
          'secret',
          ctx.manifest.os.profile === 'lab-debian',
        );
      if (bmc.address !== undefined) {
        const path = [...at, 'bmc', 'address'];
        if (checkIp(ctx, path, bmc.address) && oob.ok && isIpv4(bmc.address)) {
          if (!contains(networkOf(ctx.manifest.networks.oob.cidr as Cidr), ipToInt(bmc.address)))
            ctx.warn(
              path,
              'bmc-outside-oob',
              `${node.name}'s BMC address ${bmc.address} is outside the OOB network ${ctx.manifest.networks.oob.cidr}`,
              'civostack must route to it from the bootstrap host; leave address out to use the planned OOB address',
            );
        }
      } else if (node.bmcMac === undefined) {
        ctx.error(
          [...at, 'bmc'],
          'bmc-address-missing',
          `${node.name}'s BMC has neither an address nor a bmcMac to plan one from`,
          'give bmc.address, or bmcMac so the planner reserves an OOB address for it',
        );
      }
      // Rack defaults may serve both protocols; only a node's own field that does nothing is reported.
      if (bmc.protocol === 'ipmi' && node.bmc?.insecureTls !== undefined)
        ctx.warn(own('insecureTls'), 'bmc-option-unused', 'insecureTls applies to Redfish only', 'remove it');
      if (bmc.protocol === 'redfish' && node.bmc?.cipherSuite !== undefined)
        ctx.warn(own('cipherSuite'), 'bmc-option-unused', 'cipherSuite applies to IPMI only', 'remove it');
    }),
  );
};
