import { describe, expect, it } from 'vitest';
import { parseMac } from '../../src/manifest/index.js';
import { parseCidr } from '../../src/manifest/net.js';
import { parseAsn } from '../../src/manifest/asn.js';

describe('MAC spellings', () => {
  it.each([
    ['52:54:00:AA:00:01', '52:54:00:aa:00:01'],
    ['52-54-00-aa-00-01', '52:54:00:aa:00:01'],
    ['5254.00aa.0001', '52:54:00:aa:00:01'],
    ['525400aa0001', '52:54:00:aa:00:01'],
  ])('normalises %s', (input, expected) => expect(parseMac(input)).toBe(expected));

  it.each(['52:54:00:aa:00', '52:54:00-aa:00:01', 'zz:54:00:aa:00:01', '5254.00aa.00011'])(
    'rejects %s',
    (input) => expect(parseMac(input)).toBeUndefined(),
  );
});

describe('CIDRs', () => {
  it('suggests the network address when host bits are set', () => {
    expect(parseCidr('10.1.2.3/16')).toMatchObject({ ok: false, suggestion: '10.1.0.0/16' });
  });
  it.each(['10.0.0.0/33', '10.0.0/8', '300.0.0.0/8', 'fe80::/64'])('rejects %s', (input) =>
    expect(parseCidr(input).ok).toBe(false),
  );
});

describe('ASNs', () => {
  it.each([
    [65001, 65001],
    ['4200000000', 4200000000],
    ['1.10', 65546],
  ])('reads %s', (input, expected) => expect(parseAsn(input)).toEqual({ ok: true, asn: expected }));
  it.each([0, 23456, 65535, 4294967295, 'AS65001', 1.5])('rejects %s', (input) =>
    expect(parseAsn(input).ok).toBe(false),
  );
});
