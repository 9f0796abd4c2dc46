// What kubernetes-stage observes on a node, against a real shell on this machine: a file staged and
// recorded is not read again; one whose stat moved is hashed, and counts as changed only if its
// content differs; a missing file is changed.
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { observeStaged, writeStageRecord, type StageList } from '../../src/kube/kubeadm.js';
import { LocalHost } from '../../src/remote/index.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'civostack-stage-'));
  dirs.push(dir);
  const files = ['a.conf', 'b.conf', 'c bin'].map((n) => ({
    path: join(dir, n),
    sha256: sha(`content of ${n}\n`),
    source: `content of ${n}\n`,
    mode: 0o644,
    secrets: [] as string[],
  }));
  const list: StageList = { files, images: [] };
  const commands: string[] = [];
  const host = new LocalHost({ log: { write: (line) => commands.push(line) } });
  return { dir, list, host, record: join(dir, 'staged.sums'), commands };
}

describe('kubernetes-stage: observing what is staged', () => {
  it('hashes only what moved since it was recorded', async () => {
    const { list, host, record, commands } = setup();
    const hashed = () => commands.splice(0).filter((l) => l.includes('sha256sum ('));
    const first = await observeStaged(host, list, record);
    expect(first.changed.map((f) => f.path)).toEqual(list.files.map((f) => f.path));

    for (const f of list.files) await host.upload(f.path, f.source, { mode: f.mode });
    await writeStageRecord(host, list, record);
    expect(statSync(record).mode & 0o777).toBe(0o600);
    expect(readFileSync(record, 'utf8').trim().split('\n')).toHaveLength(3);
    commands.length = 0;
    expect((await observeStaged(host, list, record)).changed).toEqual([]);
    expect(hashed()).toEqual([]);

    // Same size, new content, mtime moved: hashed and found changed.
    const [a, b, c] = list.files;
    writeFileSync(a!.path, 'CONTENT of a.conf\n');
    // Touched only: hashed, and still what the list says.
    const later = new Date(Date.now() + 5_000);
    utimesSync(b!.path, later, later);
    rmSync(c!.path);
    const after = await observeStaged(host, list, record);
    expect(after.changed.map((f) => f.path)).toEqual([a!.path, c!.path]);
    expect(hashed().join('\n')).toContain('sha256sum (2 files changed since staged)');
  });

  it('a record for other content is not trusted', async () => {
    const { list, host, record } = setup();
    for (const f of list.files) await host.upload(f.path, f.source, { mode: f.mode });
    await writeStageRecord(host, list, record);
    // The wanted content changes (a new render): the record's sha256 no longer matches the list's.
    const next: StageList = {
      images: [],
      files: list.files.map((f, i) => (i === 1 ? { ...f, sha256: sha('new\n'), source: 'new\n' } : f)),
    };
    expect((await observeStaged(host, next, record)).changed.map((f) => f.path)).toEqual([
      next.files[1]!.path,
    ]);
  });
});
