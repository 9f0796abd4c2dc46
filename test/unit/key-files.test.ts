// sshAuthorizedKeyFiles on their way into the seeds: each public key is one entry of every node's
// ssh_authorized_keys, comments left out; a file that became a private key after validation is refused.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { loadRegion } from '../../src/manifest/index.js';
import { prepare } from '../../src/pipeline.js';
import { stateDirFor } from '../../src/state/index.js';
import { labText, tempDir } from '../helpers/manifest.js';

function labWithKeyFile(content: string): { dir: string; file: string } {
  const dir = tempDir();
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'keys/sre.pub'), content);
  const file = join(dir, 'lab.yaml');
  writeFileSync(
    file,
    labText().replace(
      'profile: lab-debian\n',
      'profile: lab-debian\n  sshAuthorizedKeyFiles: [keys/sre.pub]\n',
    ),
  );
  return { dir, file };
}

function prepared(dir: string, file: string) {
  const loaded = loadRegion(file);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return () =>
    prepare({ region: loaded.region, manifestDir: dir, state: stateDirFor(file, loaded.region.name) });
}

describe('sshAuthorizedKeyFiles in the seeds', () => {
  it("puts each key of a file into every node's ssh_authorized_keys, without its comment lines", () => {
    const a = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'alice' }).public;
    const b = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'bob' }).public;
    const { dir, file } = labWithKeyFile(`# the SRE team\n${a}\n\n${b}\n`);
    const p = prepared(dir, file)();
    const seed = p.tree.get('nodes/r01-n01/cloud-init/user-data')!.content;
    const keys = (load(seed) as { ssh_authorized_keys: string[] }).ssh_authorized_keys;
    expect(keys.slice(0, 2)).toEqual([a, b]);
    expect(seed).not.toContain('the SRE team');
  });

  it('refuses a key file that was replaced by a private key after validation', () => {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const { dir, file } = labWithKeyFile(`${pair.public}\n`);
    const run = prepared(dir, file);
    writeFileSync(join(dir, 'keys/sre.pub'), pair.private);
    expect(run).toThrow(UserError);
    expect(run).toThrow('keys/sre.pub is an OpenSSH private key; give its .pub');
  });
});
