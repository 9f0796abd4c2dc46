// Every semantic rule, in the order their errors are most useful to read.
import { bmcs } from './bmc.js';
import { switchSsh } from './switch-ssh.js';
import { cabling, fabric, knownHardware, pairs } from './topology.js';
import { controlPlane, fileRefs, kubernetesVersion, osProfile } from './cluster.js';
import { addresses } from './addresses.js';
import type { Rule } from './context.js';
import { asns, domains, downloadUrls, networkFormats, sshKeys } from './formats.js';
import { macs, portsCabledOnce, renames, uniqueNames } from './identity.js';
import { nodeLabels, nodeTaints } from './node-labels.js';
import { operator } from './operator.js';
import { networksDisjoint, networksFit, pinnedAddresses, vlans } from './networks.js';

export const rules: readonly Rule[] = [
  uniqueNames,
  renames,
  macs,
  networkFormats,
  asns,
  sshKeys,
  downloadUrls,
  domains,
  nodeLabels,
  nodeTaints,
  operator,
  networksDisjoint,
  networksFit,
  pinnedAddresses,
  addresses,
  vlans,
  knownHardware,
  pairs,
  cabling,
  fabric,
  portsCabledOnce,
  controlPlane,
  kubernetesVersion,
  osProfile,
  bmcs,
  switchSsh,
  fileRefs,
];

export type { FileRef, Rule, RuleContext } from './context.js';
