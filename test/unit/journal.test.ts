// The phase journal (a hint for region status) and the atomic writes under it and the secrets:
// each step is on disk as it happens, a damaged journal is ignored, a write that fails leaves
// the old file and no temp file, and generated secrets are 0600 and never replaced.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalPath, readJournal, startJournal, type JournalEntry } from '../../src/apply/journal.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion } from '../../src/plan/index.js';
import { readSecrets, SSH_KEY, writeFileAtomic, writeSecrets, type StateDir } from '../../src/state/index.js';
import { hashTree } from '../helpers/hash.js';
import { LAB, tempDir } from '../helpers/manifest.js';

function state(): StateDir {
  return { path: join(tempDir('civostack-journal-'), 'state') };
}

const entry = (phase: string, outcome: JournalEntry['outcome']): JournalEntry => ({
  phase,
  title: `Phase ${phase}`,
  outcome,
  durationMs: 5,
  endedAt: '2026-03-01T10:00:01.000Z',
});

describe('the phase journal', () => {
  it('is on disk from the start of a run and after every phase, then ends with the outcome', () => {
    const st = state();
    const j = startJournal(st, { command: 'region up lab.yaml', startedAt: '2026-03-01T10:00:00.000Z' });
    expect(readJournal(st)).toEqual({
      version: 1,
      pid: process.pid,
      command: 'region up lab.yaml',
      startedAt: '2026-03-01T10:00:00.000Z',
      phases: [],
    });
    j.record(entry('prepare', 'done'));
    expect(readJournal(st)?.phases).toEqual([entry('prepare', 'done')]);
    j.record({ ...entry('power', 'failed'), message: 'r01-n01: BMC answered 500' });
    expect(readJournal(st)?.phases.map((p) => [p.phase, p.outcome, p.message])).toEqual([
      ['prepare', 'done', undefined],
      ['power', 'failed', 'r01-n01: BMC answered 500'],
    ]);
    expect(readJournal(st)?.outcome).toBeUndefined();
    j.end('failed', '2026-03-01T10:00:02.000Z');
    expect(readJournal(st)).toMatchObject({ outcome: 'failed', endedAt: '2026-03-01T10:00:02.000Z' });
    expect(readdirSync(st.path)).toEqual(['journal.json']);
  });

  it("replaces the previous run's journal when a run starts", () => {
    const st = state();
    const first = startJournal(st, { command: 'first', startedAt: '2026-03-01T10:00:00.000Z' });
    first.record(entry('prepare', 'done'));
    first.end('done', '2026-03-01T10:00:01.000Z');
    startJournal(st, { command: 'second', startedAt: '2026-03-01T11:00:00.000Z' });
    expect(readJournal(st)).toEqual({
      version: 1,
      pid: process.pid,
      command: 'second',
      startedAt: '2026-03-01T11:00:00.000Z',
      phases: [],
    });
  });

  it.each([
    ['missing', undefined],
    ['not JSON', '{"version": 1, "phases": ['],
    ['another version', JSON.stringify({ version: 2, phases: [] })],
    ['without a phase list', JSON.stringify({ version: 1, phases: 'prepare' })],
  ])('is ignored when %s (it is only a hint)', (_, text) => {
    const st = state();
    mkdirSync(st.path, { recursive: true });
    if (text !== undefined) writeFileSync(journalPath(st), text);
    expect(readJournal(st)).toBeUndefined();
  });
});

describe('atomic writes', () => {
  it('write the whole file with its mode and leave no temp file', () => {
    const dir = tempDir('civostack-atomic-');
    const file = join(dir, 'a/b/secret');
    writeFileAtomic(file, 'one\n', 0o600);
    writeFileAtomic(file, 'two\n', 0o600);
    expect(readFileSync(file, 'utf8')).toBe('two\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'a/b')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'a/b'))).toEqual(['secret']);
  });

  it('leave the old file and no temp file when the write fails', () => {
    const dir = tempDir('civostack-atomic-');
    const file = join(dir, 'allocations.json');
    writeFileAtomic(file, 'old\n');
    // A folder where the new file would go: the rename fails after the temp file was written.
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    expect(() => writeFileAtomic(blocked, 'new\n')).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['allocations.json', 'blocked']);
    expect(readFileSync(file, 'utf8')).toBe('old\n');
  });
});

describe('generated secrets', () => {
  const loaded = loadRegion(LAB);
  if (!loaded.ok) throw new Error('lab.yaml does not load');
  const { plan } = planRegion(loaded.region, {}, { prune: false });

  it('are generated in memory by a read, which writes nothing', () => {
    const st = state();
    const read = readSecrets(st, plan, join(LAB, '..'));
    expect(hashTree(st.path)).toBe('absent');
    expect(read.pending.map((s) => s.name)).toEqual(
      expect.arrayContaining(['kubeadm/token', 'keepalived/password', SSH_KEY, `${SSH_KEY}.pub`]),
    );
    expect(read.values.get('kubeadm/token')).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(read.values.get('kubeadm/certificate-key')).toMatch(/^[0-9a-f]{64}$/);
    expect(read.values.get('keepalived/password')).toMatch(/^[a-z0-9]{8}$/);
  });

  it('are written 0600 (the public SSH key 0644), read back as written, and never replaced', () => {
    const st = state();
    const first = readSecrets(st, plan, join(LAB, '..'));
    writeSecrets(st, first.pending);
    for (const s of first.pending)
      expect(statSync(join(st.path, 'secrets', s.name)).mode & 0o777, s.name).toBe(
        s.name.endsWith('.pub') ? 0o644 : 0o600,
      );
    const again = readSecrets(st, plan, join(LAB, '..'));
    expect(again.pending).toEqual([]);
    expect(again.values).toEqual(first.values);
    // A second writer with its own values: refused, and the first values stay.
    const before = hashTree(st.path);
    const other = first.pending.map((s) => ({ ...s, value: `${s.value}x` }));
    expect(() => writeSecrets(st, other)).toThrow(/appeared while civostack was rendering/);
    expect(hashTree(st.path)).toBe(before);
  });
});
