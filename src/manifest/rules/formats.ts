// Formats with a precise hint: CIDRs, addresses, ASNs, SSH keys, the URLs nodes download from and
// the DNS names of the region and the cluster.
import { parseAsn, isPrivateAsn } from '../asn.js';
import type { Path } from '../diagnostics.js';
import { dnsNameProblem } from '../dns-name.js';
import { isIpv4, parseCidr } from '../net.js';
import { downloadUrlProblem, hasScheme } from '../url.js';
import type { Rule, RuleContext } from './context.js';

export function checkCidr(ctx: RuleContext, path: Path, text: string): boolean {
  const parsed = parseCidr(text);
  if (parsed.ok) return true;
  const hint = parsed.suggestion
    ? `did you mean ${parsed.suggestion}?`
    : 'write a network as a.b.c.d/len, e.g. 10.20.0.0/16';
  ctx.error(path, 'invalid-cidr', parsed.reason, hint);
  return false;
}

export function checkIp(ctx: RuleContext, path: Path, text: string): boolean {
  if (isIpv4(text)) return true;
  ctx.error(
    path,
    'invalid-address',
    `"${text}" is not an IPv4 address`,
    'write an address as four decimal octets, e.g. 10.10.0.2',
  );
  return false;
}

export const networkFormats: Rule = (ctx) => {
  const n = ctx.manifest.networks;
  for (const key of ['oob', 'provisioning', 'node'] as const)
    checkCidr(ctx, ['networks', key, 'cidr'], n[key].cidr);
  for (const key of ['loopback', 'p2p', 'pods', 'services'] as const)
    checkCidr(ctx, ['networks', key], n[key]);
  n.public.forEach((p, i) => checkCidr(ctx, ['networks', 'public', i], p));
  checkIp(ctx, ['bootstrap', 'address'], ctx.manifest.bootstrap.address);
  checkIp(ctx, ['kubernetes', 'apiVip'], ctx.manifest.kubernetes.apiVip);
  ctx.manifest.os.nameservers.forEach((ns, i) => checkIp(ctx, ['os', 'nameservers', i], ns));
};

export const asns: Rule = (ctx) => {
  const { asn } = ctx.manifest;
  const border = parseAsn(asn.border);
  if (!border.ok)
    ctx.error(
      ['asn', 'border'],
      'invalid-asn',
      border.reason,
      "use the region's ASN, e.g. 65000 or 4200000000",
    );
  const tor = parseAsn(asn.torBase);
  if (!tor.ok)
    ctx.error(['asn', 'torBase'], 'invalid-asn', tor.reason, 'use a private ASN (RFC 6996), e.g. 65100');
  else if (!isPrivateAsn(tor.asn)) {
    ctx.error(
      ['asn', 'torBase'],
      'public-fabric-asn',
      `${tor.asn} is not a private ASN`,
      'the fabric uses private ASNs (RFC 6996): 64512–65534 or 4200000000–4294967294',
    );
  }
  const torAsns = ctx.manifest.racks.length * (asn.scheme === 'per-tor' ? 2 : 1);
  if (border.ok && tor.ok && border.asn >= tor.asn && border.asn < tor.asn + torAsns) {
    ctx.error(
      ['asn', 'border'],
      'asn-collision',
      `border ASN ${border.asn} falls inside the ToR ASN range ${tor.asn}–${tor.asn + torAsns - 1}`,
      'move torBase above the border ASN',
    );
  }
  ctx.manifest.racks.forEach((rack, r) =>
    rack.switches.forEach((sw, s) =>
      sw.upstreams?.forEach((up, u) => {
        const path = ['racks', r, 'switches', s, 'upstreams', u];
        const peer = parseAsn(up.peerAsn);
        if (!peer.ok)
          ctx.error([...path, 'peerAsn'], 'invalid-asn', peer.reason, "the transit provider's ASN, e.g. 174");
        else if (border.ok && peer.asn === border.asn) {
          ctx.error(
            [...path, 'peerAsn'],
            'ibgp-upstream',
            `peer ASN ${peer.asn} is the region's own ASN`,
            "transit sessions are eBGP: use the provider's ASN",
          );
        }
        const local = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(up.address);
        const hostCidr = local ? parseCidr(`${local[1]}/32`) : undefined;
        if (!local || !hostCidr?.ok || Number(local[2]) > 31 || Number(local[2]) < 8) {
          ctx.error(
            [...path, 'address'],
            'invalid-interface-address',
            `"${up.address}" is not an interface address with prefix length`,
            'write our side of the link as a.b.c.d/len, e.g. 198.51.100.1/31',
          );
        }
        checkIp(ctx, [...path, 'peerAddress'], up.peerAddress);
      }),
    ),
  );
};

export const sshKeys: Rule = (ctx) => {
  ctx.manifest.os.sshAuthorizedKeys.forEach((key, i) => {
    if (
      !/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( .*)?$/.test(key.trim())
    ) {
      ctx.error(
        ['os', 'sshAuthorizedKeys', i],
        'invalid-ssh-key',
        'not an OpenSSH public key',
        'paste one line of an id_*.pub file: "ssh-ed25519 AAAA… comment"',
      );
    }
  });
};

/** The installer's kernel and initrd and the OS image, where they are URLs rather than paths. */
export const downloadUrls: Rule = (ctx) => {
  const os = ctx.manifest.os;
  const urls: [Path, string | undefined][] = [
    [['os', 'installer', 'kernel'], os.installer?.kernel],
    [['os', 'installer', 'initrd'], os.installer?.initrd],
    [['os', 'image', 'source'], os.image?.source],
  ];
  for (const [path, url] of urls) {
    if (url === undefined || !hasScheme(url)) continue;
    const problem = downloadUrlProblem(url);
    if (problem !== undefined)
      ctx.error(
        path,
        'invalid-url',
        `${JSON.stringify(url)} ${problem}`,
        'give an http:// or https:// URL with its special characters percent-encoded (a space is %20), or a path beside the manifest',
      );
  }
};

const DNS_NAME_RULE =
  'a DNS name is lower-case labels of letters, digits and "-" (1 to 63 characters, no "-" at either end) joined by dots, 253 characters at most';

function checkDnsName(ctx: RuleContext, path: Path, text: string, example: string): boolean {
  const problem = dnsNameProblem(text);
  if (problem === undefined) return true;
  ctx.error(
    path,
    'invalid-dns-name',
    `${JSON.stringify(text)} is not a DNS name: it ${problem.reason}`,
    problem.suggestion ? `did you mean "${problem.suggestion}"?` : `${DNS_NAME_RULE}, e.g. ${example}`,
  );
  return false;
}

/**
 * The region's domain (every node's FQDN, the API's name, the nodes' DNS search list) and the cluster
 * domain (kubelet's and CoreDNS's): DNS names, and a node's FQDN must still be one.
 */
export const domains: Rule = (ctx) => {
  const { region, kubernetes } = ctx.manifest;
  checkDnsName(ctx, ['kubernetes', 'clusterDomain'], kubernetes.clusterDomain, 'cluster.local (the default)');
  if (!checkDnsName(ctx, ['region', 'domain'], region.domain, 'nyc1.example.com')) return;
  const longest = ctx.manifest.racks
    .flatMap((rack) => rack.nodes.map((n) => n.name))
    .reduce((a, b) => (b.length > a.length ? b : a), 'api');
  const fqdn = `${longest}.${region.domain}`;
  if (fqdn.length > 253)
    ctx.error(
      ['region', 'domain'],
      'fqdn-too-long',
      `node FQDN ${longest}.… would be ${fqdn.length} characters long; a DNS name has at most 253`,
      `shorten the domain to at most ${252 - longest.length} characters, or the node's name`,
    );
};
