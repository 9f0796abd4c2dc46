// DNS names as the configs take them (the region's domain in every node's FQDN and resolv.conf
// search list, the cluster domain in kubelet's and CoreDNS's): RFC 1123 host names, lower case, as
// Kubernetes' DNS-1123 subdomain: labels of 1–63 letters, digits and "-" joined by dots, 253 at most.

const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** For the JSON Schema, so that editors flag what the rules refuse. */
export const DNS_NAME_PATTERN =
  '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$';

export interface DnsNameProblem {
  readonly reason: string;
  /** The name a likely slip (capitals, a trailing dot) was meant to be. */
  readonly suggestion?: string;
}

/** What keeps `text` from being a DNS name, or undefined when it is one. */
export function dnsNameProblem(text: string): DnsNameProblem | undefined {
  const reason = reasonOf(text);
  if (reason === undefined) return undefined;
  const fixed = text.trim().toLowerCase().replace(/\.$/, '');
  return fixed !== text && fixed !== '' && reasonOf(fixed) === undefined
    ? { reason, suggestion: fixed }
    : { reason };
}

function reasonOf(text: string): string | undefined {
  if (text === '') return 'is empty';
  if (text.length > 253) return `is ${text.length} characters long; a DNS name has at most 253`;
  if (text.endsWith('.')) return 'ends with a dot; write the name without the root dot';
  for (const label of text.split('.')) {
    if (label === '') return 'has an empty label (a leading dot or two dots in a row)';
    if (label.length > 63)
      return `has a label of ${label.length} characters ("${label.slice(0, 12)}…"); a label has at most 63`;
    if (LABEL.test(label)) continue;
    if (/[A-Z]/.test(label)) return `has upper-case letters in "${label}"`;
    const bad = /[^a-z0-9-]/.exec(label);
    if (bad) return `holds ${describeChar(bad[0])} in "${label}"`;
    return `has a label that starts or ends with "-" ("${label}")`;
  }
  return undefined;
}

function describeChar(c: string): string {
  if (c === ' ') return 'a space';
  if (/[\x21-\x7e]/.test(c)) return `"${c}"`;
  return `the character U+${c.codePointAt(0)!.toString(16).padStart(4, '0').toUpperCase()}`;
}
