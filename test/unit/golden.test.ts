// The golden-file helper itself: a comparison that writes nothing and misses no difference, and
// an update that rewrites only what differs and says what it rewrote.
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareGolden, describeGolden, updateGolden } from '../helpers/golden.js';
import { hashTree } from '../helpers/hash.js';
import { tempDir } from '../helpers/manifest.js';

const RENDER = new Map([
  ['boot/dnsmasq.conf', 'port=0\ndhcp-range=10.0.0.10,10.0.0.99\n'],
  ['switches/r01-tor1/frr.conf', 'frr defaults datacenter\nrouter bgp 65001\n'],
  ['switches/r01-tor1/config_db.json', '{}\n'],
]);

/** A golden folder holding `files`, every file dated in the past so a rewrite shows. */
function golden(files: ReadonlyMap<string, string | Buffer>): string {
  const dir = join(tempDir('civostack-golden-'), 'golden');
  for (const [path, content] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
    utimesSync(join(dir, path), 1_000_000, 1_000_000);
  }
  return dir;
}

/** The golden folder as it should be once broken in every way: one changed, one gone, one extra. */
function broken(): string {
  const files = new Map<string, string>(RENDER);
  files.set('switches/r01-tor1/frr.conf', 'frr defaults datacenter\nrouter bgp 65099\n');
  files.delete('switches/r01-tor1/config_db.json');
  files.set('switches/old-tor/frr.conf', 'gone\n');
  return golden(files);
}

describe('compareGolden', () => {
  it('finds nothing when every file is byte-identical', () => {
    expect(compareGolden(golden(RENDER), RENDER)).toEqual([]);
  });

  it('reports a changed file with its first different line, a missing one and an extra one, and writes nothing', () => {
    const dir = broken();
    const before = hashTree(dir);
    expect(compareGolden(dir, RENDER)).toEqual([
      { path: 'switches/old-tor/frr.conf', kind: 'extra' },
      { path: 'switches/r01-tor1/config_db.json', kind: 'missing' },
      { path: 'switches/r01-tor1/frr.conf', kind: 'changed', line: 2 },
    ]);
    expect(hashTree(dir)).toBe(before);
  });

  it('compares bytes: a file differing only in its encoding, or in what follows the last newline, differs', () => {
    const latin1 = new Map([['a.txt', Buffer.from('café\n', 'latin1')]]);
    expect(compareGolden(golden(latin1), new Map([['a.txt', 'caf\uFFFD\n']]))).toEqual([
      { path: 'a.txt', kind: 'changed', line: 1 },
    ]);
    expect(compareGolden(golden(new Map([['a.txt', 'x\n']])), new Map([['a.txt', 'x\ny']]))).toEqual([
      { path: 'a.txt', kind: 'changed', line: 2 },
    ]);
  });

  it('reports every rendered file as missing when the golden folder does not exist', () => {
    expect(compareGolden(join(tempDir('civostack-golden-'), 'none'), RENDER).map((d) => d.kind)).toEqual([
      'missing',
      'missing',
      'missing',
    ]);
  });
});

describe('updateGolden', () => {
  it('rewrites the changed and missing files, removes the extra one, leaves the rest, and says which', () => {
    const dir = broken();
    const changed = updateGolden(dir, RENDER);
    expect(describeGolden(changed)).toBe(
      [
        'extra switches/old-tor/frr.conf',
        'missing switches/r01-tor1/config_db.json',
        'changed switches/r01-tor1/frr.conf (from line 2)',
      ].join('\n'),
    );
    expect(compareGolden(dir, RENDER)).toEqual([]);
    for (const [path, content] of RENDER) expect(readFileSync(join(dir, path), 'utf8')).toBe(content);
    // The extra file's now empty folder goes with it; an unchanged file is not rewritten.
    expect(existsSync(join(dir, 'switches/old-tor'))).toBe(false);
    expect(statSync(join(dir, 'boot/dnsmasq.conf')).mtimeMs).toBe(1_000_000_000);
  });

  it('changes nothing and reports nothing when the folder is up to date', () => {
    const dir = golden(RENDER);
    const before = hashTree(dir);
    expect(updateGolden(dir, RENDER)).toEqual([]);
    expect(hashTree(dir)).toBe(before);
    for (const path of RENDER.keys()) expect(statSync(join(dir, path)).mtimeMs).toBe(1_000_000_000);
  });
});
