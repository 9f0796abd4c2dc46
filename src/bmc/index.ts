// BMC power control for the power phases, `civostack bmc` and the lab: one driver per node, chosen by
// the node's Plan (Redfish or IPMI), its credentials read from their file on first use.
import { isAbsolute, resolve } from 'node:path';
import type { NodePlan, Plan } from '../plan/index.js';
import { readCredentials, type BmcCredentials } from './credentials.js';
import type { PowerDriver, PowerDriverFactory } from './driver.js';
import { IpmiDriver, type IpmiOptions } from './ipmi.js';
import { RedfishDriver, type RedfishOptions } from './redfish.js';

export * from './driver.js';
export { readCredentials, type BmcCredentials } from './credentials.js';
export { RedfishDriver, type RedfishOptions } from './redfish.js';
export { IpmiDriver, parseBootFlags, IPMITOOL, type IpmiOptions, type IpmiRun } from './ipmi.js';
export { bmcStatus, bmcAction, type BmcAction, type BmcResult } from './fanout.js';
export { printable } from './printable.js';

export interface BmcFactoryOptions {
  /** Credentials files are relative to the manifest's folder. */
  readonly manifestDir: string;
  /** Tuning for tests and the lab; the defaults suit real BMCs. */
  readonly redfish?: Partial<
    Omit<RedfishOptions, 'node' | 'address' | 'credentials' | 'port' | 'insecureTls'>
  >;
  readonly ipmi?: Partial<Omit<IpmiOptions, 'node' | 'address' | 'credentials' | 'port' | 'cipherSuite'>>;
}

/** The BMC driver of one planned node, or undefined when the manifest gives it no BMC access. */
export function bmcDriver(node: NodePlan, o: BmcFactoryOptions): PowerDriver | undefined {
  const bmc = node.bmc;
  if (!bmc?.access) return undefined;
  const access = bmc.access;
  const file = isAbsolute(access.credentialsFile)
    ? access.credentialsFile
    : resolve(o.manifestDir, access.credentialsFile);
  let cached: BmcCredentials | undefined;
  const credentials = () => (cached ??= readCredentials(node.name, file));
  const common = { node: node.name, address: bmc.address, credentials };
  const port = access.port === undefined ? {} : { port: access.port };
  return access.protocol === 'redfish'
    ? new RedfishDriver({ ...o.redfish, ...common, ...port, insecureTls: access.insecureTls })
    : new IpmiDriver({ ...o.ipmi, ...common, ...port, cipherSuite: access.cipherSuite });
}

/** The PowerDriverFactory of a plan: drivers by node name; undefined for a node powered by hand. */
export function bmcDrivers(plan: Plan, o: BmcFactoryOptions): PowerDriverFactory {
  const nodes = new Map(plan.nodes.map((n) => [n.name, n]));
  return (name) => {
    const node = nodes.get(name);
    return node ? bmcDriver(node, o) : undefined;
  };
}
