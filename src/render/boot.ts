// Network boot: the dnsmasq configuration and the iPXE scripts, from the plan's reservations.
import { downloadUrlProblem, hasScheme, intToIp, ipToInt } from '../manifest/index.js';
import type { NodePlan, Plan } from '../plan/index.js';
import type { Engine } from './engine.js';
import { RenderError } from './render-error.js';

export interface BootOptions {
  /** Folder dnsmasq serves by TFTP (undionly.kpxe, ipxe.efi). */
  readonly tftpRoot: string;
  readonly leaseFile: string;
  /** 0 turns dnsmasq's DNS off. */
  readonly dnsPort: number;
  /** Proxy-DHCP: another server hands out addresses; only boot options are given. */
  readonly proxy: boolean;
}

export const DEFAULT_BOOT_OPTIONS: BootOptions = {
  tftpRoot: '/var/lib/civostack/tftp',
  leaseFile: '/var/lib/civostack/dnsmasq.leases',
  dnsPort: 53,
  proxy: false,
};

/** Download attempts per NIC before moving on. */
const RETRIES = 3;
/** Seconds between two attempts at one download. */
const RETRY_DELAY_S = 2;
/**
 * Rounds over every NIC before a node script gives up on the installer, and seconds between them:
 * about three minutes in all, so a boot server restarted mid-download (a killed `pxe serve`, an
 * upgrade) finds the node still asking rather than stranded at a blank disk.
 */
const ROUNDS = 10;
const ROUND_DELAY_S = 10;

function netmask(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0);
}

export function bootUrl(plan: Plan): string {
  return plan.bootstrap.url;
}

export function dnsmasqConf(engine: Engine, plan: Plan, options: BootOptions): string {
  const ranges = plan.racks.flatMap((r) => [
    {
      tag: `provisioning-${r.name}`,
      network: r.provisioning.cidr.split('/')[0],
      netmask: netmask(r.provisioning.prefix),
      gateway: r.provisioning.gateway,
    },
    {
      tag: `oob-${r.name}`,
      network: r.oob.cidr.split('/')[0],
      netmask: netmask(r.oob.prefix),
      gateway: r.oob.gateway,
    },
  ]);
  const ztp = plan.dhcp
    .filter((d) => d.ztp)
    .map((d) => ({ tag: `ztp-${d.host}`, url: `${plan.bootstrap.url}/ztp/${d.host}/ztp.json` }));
  return engine.template('dnsmasq/dnsmasq.conf.hbs')({
    region: plan.region.name,
    domain: plan.region.domain,
    bootstrap: plan.bootstrap.address,
    baseUrl: plan.bootstrap.url,
    ipxeUrl: `${plan.bootstrap.url}/ipxe/boot.ipxe`,
    nameservers: plan.os.nameservers,
    leaseTime: '12h',
    ranges,
    hosts: plan.dhcp.map((d) => ({
      name: d.host,
      macs: d.macs,
      address: d.address,
      kind: d.kind,
      ztpTag: d.ztp ? `ztp-${d.host}` : undefined,
    })),
    ztp,
    ...options,
  });
}

export function bootIpxe(engine: Engine, plan: Plan): string {
  return engine.template('ipxe/boot.ipxe.hbs')({
    region: scriptWord('boot.ipxe', 'the region name', plan.region.name),
    baseUrl: scriptUrl('boot.ipxe', 'boot server', plan.bootstrap.url),
    retries: RETRIES,
  });
}

export function localIpxe(engine: Engine): string {
  return engine.template('ipxe/local.ipxe.hbs')({});
}

export interface InstallerUrls {
  readonly kernel: string;
  readonly initrd: string;
}

/** Installer kernel and initrd: the manifest's URLs, or served by the boot server. */
export function installerUrls(plan: Plan): InstallerUrls {
  const served = {
    kernel: `${plan.bootstrap.url}/installer/vmlinuz`,
    initrd: `${plan.bootstrap.url}/installer/initrd.img`,
  };
  const given = plan.os.installer;
  return {
    kernel: given && hasScheme(given.kernel) ? given.kernel : served.kernel,
    initrd: given && hasScheme(given.initrd) ? given.initrd : served.initrd,
  };
}

/**
 * A URL as one word of an iPXE command. Validation refuses a bad one with its line; this is the
 * second wall, for a plan that did not come through it: a newline or `${` would add commands.
 */
function scriptUrl(node: string, what: string, url: string): string {
  const problem = downloadUrlProblem(url);
  if (problem !== undefined)
    throw new RenderError(`${node}: the ${what} URL ${JSON.stringify(url)} ${problem}`);
  return url;
}

/**
 * A plain value (a name, a port, a disk) as one word of an iPXE command and of the kernel's
 * command line: letters, digits and . _ : / , @ + = - only, so neither iPXE (whitespace, `${`)
 * nor the kernel (whitespace, quotes) reads it as more than itself.
 */
function scriptWord(node: string, what: string, value: string): string {
  if (!/^[A-Za-z0-9._:/,@+=-]+$/.test(value))
    throw new RenderError(
      `${node}: ${what} ${JSON.stringify(value)} cannot go into a boot script as it is (letters, digits and . _ : / , @ + = - only)`,
    );
  return value;
}

/**
 * Where a node's script carries its install token. The token is minted per install by the boot
 * server, which puts it here when it serves the script; a render holds the slot, never a token.
 */
export const INSTALL_TOKEN_SLOT = '@install-token@';

export function nodeIpxe(engine: Engine, plan: Plan, node: NodePlan): string {
  const urls = installerUrls(plan);
  const name = scriptWord(node.name, 'the node name', node.name);
  const baseUrl = scriptUrl(name, 'boot server', plan.bootstrap.url);
  const cmdline = [
    `civostack.node=${name}`,
    `civostack.url=${baseUrl}`,
    `civostack.token=${INSTALL_TOKEN_SLOT}`,
    `civostack.disk=${scriptWord(name, "the SKU's install disk", node.disk)}`,
    'console=tty0',
    'console=ttyS0,115200n8',
    'panic=10',
  ].join(' ');
  return engine.template('ipxe/node.ipxe.hbs')({
    name,
    role: node.role,
    rack: scriptWord(name, 'the rack name', node.rack),
    baseUrl,
    retries: RETRIES,
    giveUpAt: RETRIES + 1,
    retryDelay: RETRY_DELAY_S,
    rounds: ROUNDS,
    roundDelay: ROUND_DELAY_S,
    kernel: scriptUrl(name, 'installer kernel', urls.kernel),
    initrd: scriptUrl(name, 'installer initrd', urls.initrd),
    cmdline,
    nicCount: node.nics.length,
    nics: node.nics.map((nic, index) => ({
      ...nic,
      switch: scriptWord(name, `net${index}'s switch`, nic.switch),
      port: scriptWord(name, `net${index}'s port`, nic.port),
      index,
      next: index + 1,
    })),
  });
}

/** Is `address` inside `cidr`? (The boot server checks a request's source with it.) */
export function inCidr(address: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  const a = ipToInt(address);
  const b = ipToInt(base!);
  return a >= b && a < b + size;
}
