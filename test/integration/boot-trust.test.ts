// What a host on the provisioning network gets from the boot server when DHCP is not civostack's
// (proxy or off: no reserved address to check), knowing only a node's MAC, which is on the wire and
// in the manifest. Real HTTP on loopback; any local process stands for such a host. The node's
// installer is the one that holds the install token of the script it booted.
import { statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootServer, NodeStore, type BootEvent } from '../../src/boot/index.js';
import { InstallTokens } from '../../src/boot/install-tokens.js';
import { stateDirFor } from '../../src/state/index.js';
import { httpCall } from '../helpers/http.js';
import { installTokenIn } from '../helpers/install-token.js';
import { LAB, tempDir } from '../helpers/manifest.js';
import { renderFile } from '../helpers/render.js';

const KEY_A =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGluc3RhbGxlci1rZXktb2YtcjAxLW4wMi1mb3ItdGVzdA root@r01-n02';
const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGF0dGFja2VyLWtleS1mb3ItcjAxLW4wMi10by1waW4tMQ evil';
const API_TOKEN = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5';

describe('boot server trust without authoritative DHCP', () => {
  const { plan, tree } = renderFile(LAB);
  const dir = tempDir('civostack-trust-');
  const state = stateDirFor(join(dir, 'lab.yaml'), 'lab1', join(dir, 'state'));
  const store = new NodeStore(
    state,
    plan.nodes.map((n) => n.name),
  );
  const tokensFile = join(dir, 'state', 'boot', 'install-tokens.json');
  const events: BootEvent[] = [];
  const server = createBootServer({
    plan,
    tree,
    store,
    artifacts: {},
    checkSource: false,
    tokens: new InstallTokens(tokensFile),
    apiToken: API_TOKEN,
    onEvent: (e) => events.push(e),
  });
  const node = plan.nodes.find((n) => n.name === 'r01-n02')!;
  const mac = node.nics[0]!.mac;
  const hy = mac.replaceAll(':', '-');
  let base = '';
  const call = (path: string, opts: Parameters<typeof httpCall>[1] = {}) => httpCall(`${base}${path}`, opts);
  const withToken = (token: string) => ({ 'X-Civostack-Token': token });
  const script = async () => (await call(`/ipxe/${hy}.ipxe`)).body.toString();
  const post = (what: string, body: string, token: string, from = '127.0.0.1') =>
    call(`/nodes/r01-n02/${what}?mac=${mac}`, {
      method: 'POST',
      body,
      from,
      headers: { 'Content-Type': 'text/plain', ...withToken(token) },
    });
  const refusals = () => events.filter((e) => e.kind === 'refused');

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("refuses a node's seed, install.env and progress to whoever knows its MAC but not the install's token", async () => {
    for (const path of ['seed/user-data', 'seed/meta-data', 'install.env']) {
      const bare = await call(`/nodes/r01-n02/${path}?mac=${mac}`);
      expect(bare.status, path).toBe(403);
      expect(bare.body.toString(), path).toContain("this install's token");
      const wrong = await call(`/nodes/r01-n02/${path}?mac=${mac}`, { headers: withToken('0'.repeat(32)) });
      expect(wrong.status, path).toBe(403);
    }
    expect((await post('progress', 'state=installed', '')).status).toBe(403);
    expect((await post('hostkeys', KEY_B, 'f'.repeat(32))).status).toBe(403);
    expect(store.get('r01-n02')!.state).toBe('pending');
    expect(store.get('r01-n02')!.hostKeys).toBeUndefined();

    const token = installTokenIn(await script());
    const seed = await call(`/nodes/r01-n02/seed/user-data?mac=${mac}`, { headers: withToken(token) });
    expect(seed.status).toBe(200);
    expect(seed.body.toString()).toBe(tree.get('nodes/r01-n02/cloud-init/user-data')!.content);
    // The token is a secret: in no event, and 0600 where it is kept.
    expect(JSON.stringify(events)).not.toContain(token);
    expect(statSync(tokensFile).mode & 0o777).toBe(0o600);
  });

  it('pins host keys once per install, and refuses a replay after installed, naming the source', async () => {
    const token = installTokenIn(await script());
    expect((await post('progress', 'state=installing&percent=50', token)).status).toBe(200);
    expect((await post('hostkeys', KEY_A, token)).status).toBe(200);
    expect(store.get('r01-n02')!.hostKeys).toEqual([KEY_A]);

    // A second set during the same install (someone who read the script too) is refused.
    const second = await post('hostkeys', KEY_B, token, '127.0.0.2');
    expect(second.status).toBe(409);
    expect(refusals().at(-1)).toMatchObject({ status: 409, from: '127.0.0.2' });
    expect((refusals().at(-1) as { reason: string }).reason).toMatch(/already pinned.*from 127\.0\.0\.2/);

    expect((await post('progress', 'state=installed', token)).status).toBe(200);
    expect(store.get('r01-n02')!.state).toBe('installed');
    // The installed node's script is the local disk's: no token to be had any more.
    expect(await script()).toBe(tree.get('boot/ipxe/local.ipxe')!.content);
    store.apply('r01-n02', { kind: 'ssh-ready' });

    // The replay: the same post, token and all, after the node is installed and reachable.
    const replay = await post('hostkeys', KEY_B, token, '127.0.0.3');
    expect(replay.status).toBe(403);
    expect(refusals().at(-1)).toMatchObject({ status: 403, from: '127.0.0.3' });
    expect((await post('progress', 'state=failed&message=x', token)).status).toBe(403);
    expect(store.get('r01-n02')).toMatchObject({ state: 'ssh-ready', hostKeys: [KEY_A] });
    expect(
      (await call(`/nodes/r01-n02/seed/user-data?mac=${mac}`, { headers: withToken(token) })).status,
    ).toBe(403);
  });

  it('takes no host keys outside an install, even with a live token', async () => {
    store.apply('r01-n02', { kind: 'reinstall' });
    const token = installTokenIn(await script());
    // The node fetched its script (ipxe) and failed; before its next boot, keys are not an install's.
    expect((await post('progress', 'state=failed&message=disk', token)).status).toBe(200);
    const next = installTokenIn(await script());
    expect(next).not.toBe(token);
    expect((await post('hostkeys', KEY_B, token)).status).toBe(403);
    store.apply('r01-n02', { kind: 'ssh-ready' });
    const r = await post('hostkeys', KEY_B, next, '127.0.0.4');
    expect(r.status).toBe(409);
    expect((refusals().at(-1) as { reason: string }).reason).toMatch(
      /ssh-ready, not installing.*127\.0\.0\.4/,
    );
    expect(store.get('r01-n02')!.hostKeys ?? []).not.toContain(KEY_B);
  });

  it('answers the node API only with its token', async () => {
    expect((await call('/api/v1/nodes')).status).toBe(401);
    expect((await call('/api/v1/nodes', { headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await call('/api/v1/nodes', { headers: { Authorization: API_TOKEN } })).status).toBe(401);
    const ok = await call('/api/v1/nodes', { headers: { Authorization: `Bearer ${API_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(Object.keys(JSON.parse(ok.body.toString()) as object)).toContain('r01-n02');
  });
});
