import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { civostack } from '../helpers/cli.js';
import { labText, LAB, REPO, tempDir } from '../helpers/manifest.js';

describe('civostack region validate', () => {
  it('exits 0 on the shipped inventories', async () => {
    for (const inv of ['inventories/lab.yaml', 'inventories/nyc1.yaml']) {
      const r = await civostack(['region', 'validate', inv]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain('valid');
    }
  });

  it('exits 1 and prints every error as file:line:col with a hint', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      labText().replace('52:54:00:bb:00:02', '52-54-00-AA-00-01').replace('slot: 3', 'slot: 77'),
    );
    const r = await civostack(['region', 'validate', file]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /bad\.yaml:\d+:\d+: error: MAC 52:54:00:aa:00:01 is already r01-n01's nic0 at bad\.yaml:\d+/,
    );
    expect(r.stderr).toMatch(/error: slot 77 has no server port/);
    expect(r.stderr).toMatch(/hint: /);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('gives machine-readable diagnostics with --output json', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, labText().replace('role: worker', 'role: control-plane'));
    const r = await civostack(['region', 'validate', file, '--output', 'json']);
    expect(r.exitCode).toBe(1);
    const out = JSON.parse(r.stdout) as {
      valid: boolean;
      errors: number;
      diagnostics: { code: string; line: number; path: string }[];
    };
    expect(out.valid).toBe(false);
    expect(out.diagnostics).toContainEqual(
      expect.objectContaining({ code: 'even-control-plane', path: 'racks[0].nodes[1].role' }),
    );
  });

  it('reports a missing file, an empty file and a YAML error in one line each, without a stack', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'empty.yaml'), '');
    writeFileSync(join(dir, 'broken.yaml'), 'region: [\n  name: x\n');
    for (const [name, pattern] of [
      ['missing.yaml', /missing\.yaml:1:1: error: no such manifest file/],
      ['empty.yaml', /empty\.yaml:1:1: error: the manifest is empty/],
      ['broken.yaml', /broken\.yaml:\d+:\d+: error: YAML syntax error/],
    ] as const) {
      const r = await civostack(['region', 'validate', join(dir, name)]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.split('\n').filter((l) => l.includes('error:'))).toHaveLength(1);
    }
  });

  it('exits 64 on a usage error and 0 on --help, with an example', async () => {
    expect((await civostack(['region', 'validate'])).exitCode).toBe(64);
    const help = await civostack(['region', 'plan', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Example');
  });

  it('refuses a --timeout that is not a number of minutes before touching anything', async () => {
    const state = join(tempDir(), 'state');
    for (const args of [
      ['lab', 'up', LAB],
      ['region', 'up', LAB, '--lab'],
    ]) {
      const r = await civostack([...args, '--timeout', 'soon', '--state-dir', state]);
      expect(r.exitCode, args.join(' ')).toBe(64);
      expect(r.stderr).toContain('--timeout soon is not a number of minutes');
      expect(existsSync(state)).toBe(false);
    }
  });
});

describe('civostack region plan', () => {
  it('records allocations in the state folder, mode 0700, and prints the plan as JSON', async () => {
    const state = join(tempDir(), 'state');
    const r = await civostack(['region', 'plan', LAB, '--state-dir', state, '--output', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { kind: string; nodes: unknown[] };
    expect(plan.kind).toBe('Plan');
    expect(plan.nodes).toHaveLength(3);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    const recorded = JSON.parse(readFileSync(join(state, 'allocations.json'), 'utf8')) as { version: number };
    expect(recorded.version).toBe(1);
    expect(readdirSync(state).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes nothing with --no-save, and fails clearly on a corrupt allocation file', async () => {
    const state = join(tempDir(), 'state');
    expect((await civostack(['region', 'plan', LAB, '--state-dir', state, '--no-save'])).exitCode).toBe(0);
    expect(existsSync(join(state, 'allocations.json'))).toBe(false);
    const corrupt = tempDir();
    writeFileSync(join(corrupt, 'allocations.json'), '{"nope": true');
    const r = await civostack(['region', 'plan', LAB, '--state-dir', corrupt]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/is not a civostack allocation file/);
    expect(readFileSync(join(corrupt, 'allocations.json'), 'utf8')).toBe('{"nope": true');
  });

  it('exits with its own code, and no EPIPE trace, when the reader of its output goes away', async () => {
    // nyc1's plan is over 200 KiB, more than a pipe holds, and `true` reads none of it: the CLI's
    // writes fail with EPIPE once `true` has exited, whenever that is.
    const r = await execa(
      'bash',
      [
        '-c',
        'node bin/civostack region plan inventories/nyc1.yaml --output json --no-save | true; echo "$PIPESTATUS"',
      ],
      { cwd: REPO, reject: false, env: { NO_COLOR: '1' } },
    );
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js:\d+/);
    expect(r.stdout.trim()).toBe('0');
  });

  it('prints a readable per-rack summary', async () => {
    const r = await civostack(['region', 'plan', 'inventories/nyc1.yaml', '--no-save']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Rack r01 {2}ASN 65100/);
    expect(r.stdout).toMatch(/r01-n40 +worker +agent +10\.2\.0\.49/);
  });
});

describe('--out', () => {
  it('region render: an existing file or an empty --out is a usage error with a hint, and nothing is written', async () => {
    const dir = tempDir();
    const file = join(dir, 'configs');
    writeFileSync(file, 'not a folder\n');
    const state = join(dir, 'state');
    const r = await civostack(['region', 'render', LAB, '--out', file, '--state-dir', state]);
    expect(r.exitCode, r.stderr).toBe(64);
    expect(r.stderr).toContain(`--out ${file} is a file; the render writes a folder`);
    expect(r.stderr).toMatch(/hint: name a new or empty folder/);
    expect(r.stderr).not.toMatch(/internal|at .*\.js:\d+/);
    expect(readFileSync(file, 'utf8')).toBe('not a folder\n');
    expect(existsSync(state)).toBe(false);
    const empty = await civostack(['region', 'render', LAB, '--out', '', '--state-dir', state]);
    expect(empty.exitCode, empty.stderr).toBe(64);
    expect(empty.stderr).toContain('--out is empty');
    expect(empty.stderr).toMatch(/hint: name the folder to write, e\.g\. --out /);
    expect(existsSync(state)).toBe(false);
  });

  it('schema: a folder or an empty --out is a usage error with a hint; a file is written', async () => {
    const dir = tempDir();
    const r = await civostack(['schema', '--out', dir]);
    expect(r.exitCode, r.stderr).toBe(64);
    expect(r.stderr).toContain(`--out ${dir} is a folder, not a file to write`);
    expect(r.stderr).not.toMatch(/internal|at .*\.js:\d+/);
    expect(readdirSync(dir)).toEqual([]);
    const empty = await civostack(['schema', '--out', '']);
    expect(empty.exitCode, empty.stderr).toBe(64);
    expect(empty.stderr).toContain('--out is empty');
    expect(empty.stdout).toBe('');
    const ok = await civostack(['schema', '--out', join(dir, 'manifest.schema.json')]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.schema.json'), 'utf8'))).toHaveProperty('$id');
  });
});
