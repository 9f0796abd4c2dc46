// Autonomous system numbers: asplain or asdot, and the private ranges of RFC 6996.

export type AsnParse = { ok: true; asn: number } | { ok: false; reason: string };

export function parseAsn(value: unknown): AsnParse {
  let n: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) n = value;
  else if (typeof value === 'string' && /^\d+$/.test(value)) n = Number(value);
  else if (typeof value === 'string' && /^\d+\.\d+$/.test(value)) {
    const [hi, lo] = value.split('.').map(Number) as [number, number];
    if (hi <= 65535 && lo <= 65535) n = hi * 65536 + lo;
  }
  if (n === undefined || n < 1 || n > 4294967294 || n === 23456 || n === 65535) {
    return {
      ok: false,
      reason: `${JSON.stringify(value)} is not a usable ASN (1–4294967294, not 23456 or 65535)`,
    };
  }
  return { ok: true, asn: n };
}

export function isPrivateAsn(asn: number): boolean {
  return (asn >= 64512 && asn <= 65534) || (asn >= 4200000000 && asn <= 4294967294);
}
