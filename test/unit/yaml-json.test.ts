// The render's fast emitters against the libraries they stand in for: toYaml must write exactly what
// js-yaml's dump writes, stableJson exactly JSON.stringify of a key-sorted copy.
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { stableJson } from '../../src/render/json.js';
import { toYaml } from '../../src/render/yaml.js';

const SCALARS = [
  'r01-n01',
  'y',
  'yes',
  'No',
  'ON',
  'off',
  'true',
  'False',
  'null',
  '~',
  '',
  ' leading',
  'trailing ',
  '0644',
  '0o17',
  '12',
  '-3',
  '1e3',
  '.5',
  '.inf',
  '2026-11-21',
  '2026-11-21T10:00:00Z',
  '10.0.0.1',
  '10.0.0.1/24',
  '999.1.1.1',
  '1.2.3.4.5',
  '52:54:00:12:34:56',
  '52:54:00:aa:00:02',
  '12:34',
  'fe80::1',
  'https://10.0.0.1:6443',
  'key: value',
  'a #comment',
  'a#b',
  '#x',
  '-dash',
  '- item',
  '?q',
  ':colon',
  'end:',
  '[x]',
  '{x}',
  'a,b',
  '*star',
  '&amp',
  '!tag',
  '|pipe',
  '>fold',
  "'quoted'",
  '"double"',
  '%percent',
  '@at',
  '`tick',
  "it's",
  'tab\there',
  'bell\u0007',
  'naïve',
  '日本',
  '<<',
  'node-role.kubernetes.io/control-plane=true',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNo bench@host',
  'line\n',
  'two\nlines\n',
  'no newline at end\nx',
  'two at end\n\n',
  ' indented\nline\n',
  '\n',
  'crlf\r\n',
];

const yamlOf = (v: unknown) => dump(v, { lineWidth: -1, noRefs: true, sortKeys: false });

describe('toYaml', () => {
  it.each(SCALARS.map((s) => [JSON.stringify(s), s]))(
    'writes %s as js-yaml does, as value and key',
    (_, s) => {
      expect(toYaml({ k: s })).toBe(yamlOf({ k: s }));
      expect(toYaml({ [s]: 1 })).toBe(yamlOf({ [s]: 1 }));
      expect(toYaml([s])).toBe(yamlOf([s]));
      expect(toYaml({ list: [{ a: s, b: [s] }] })).toBe(yamlOf({ list: [{ a: s, b: [s] }] }));
    },
  );

  it('writes nested mappings and sequences, empty ones and other types as js-yaml does', () => {
    const docs: unknown[] = [
      { a: 1, b: -2, c: true, d: false, e: {}, f: [], g: { h: { i: ['j', 'k'] } } },
      [{ a: { b: [{ c: 'd\n' }] } }, [], {}],
      { write_files: [{ path: '/etc/x', permissions: '0644', content: '{"a":1}\n' }] },
      { float: 1.5, nul: null, nested: [[1, 2], ['a']] },
      { big: 2 ** 60, neg0: -0, nan: Number.NaN },
      'plain',
      42,
      [],
      {},
    ];
    for (const d of docs) expect(toYaml(d)).toBe(yamlOf(d));
  });
});

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
    );
  return value;
}

describe('stableJson', () => {
  it('writes what JSON.stringify writes for a key-sorted copy', () => {
    const docs: unknown[] = [
      { b: 1, a: { d: [3, { z: 1, y: null }], c: 'x"\n\u2028' } },
      { '10': 'ten', '2': 'two', b: 'b', a: 'a', '01': 'zero-one', '-1': 'minus' },
      { empty: {}, list: [], undef: undefined, inArray: [undefined, 1], t: true, f: false, n: 1.5e-7 },
      { DEVICE_METADATA: { localhost: { hostname: 'r01-tor1', bgp_asn: '65001' } }, 'PORT|Ethernet0': {} },
      [],
      'text',
      null,
    ];
    for (const d of docs) expect(stableJson(d)).toBe(`${JSON.stringify(sorted(d), null, 4)}\n`);
  });
});
