// The boot server over real HTTP on loopback, with trustLoopback as the bench runs it: requests
// from 127.0.0.1 stand for the node, from 127.0.0.2 for a host that is not the node's reserved
// address. Without trustLoopback, from real reserved addresses: boot-source.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootServer, NodeStore, type BootEvent } from '../../src/boot/index.js';
import { InstallTokens } from '../../src/boot/install-tokens.js';
import { stateDirFor } from '../../src/state/index.js';
import { httpCall } from '../helpers/http.js';
import { asRendered, installTokenIn } from '../helpers/install-token.js';
import { LAB, tempDir } from '../helpers/manifest.js';
import { renderFile } from '../helpers/render.js';

let base: { port: number };
const call = (path: string, opts: Parameters<typeof httpCall>[1] = {}) =>
  httpCall(`http://127.0.0.1:${base.port}${path}`, opts);

describe('boot server', () => {
  const { plan, tree } = renderFile(LAB);
  const dir = tempDir('civostack-boot-');
  const state = stateDirFor(join(dir, 'lab.yaml'), 'lab1', join(dir, 'state'));
  const store = new NodeStore(
    state,
    plan.nodes.map((n) => n.name),
  );
  const image = randomBytes(3 * 1024 * 1024 + 17);
  const imagePath = join(dir, 'lab-os.raw.gz');
  writeFileSync(imagePath, image);
  writeFileSync(join(dir, 'vmlinuz'), 'kernel-bytes');
  writeFileSync(join(dir, 'initrd.img'), 'initrd-bytes');
  const events: BootEvent[] = [];
  const server = createBootServer({
    plan,
    tree,
    store,
    artifacts: {
      kernel: join(dir, 'vmlinuz'),
      initrd: join(dir, 'initrd.img'),
      image: {
        path: imagePath,
        url: `${plan.bootstrap.url}/images/lab-os.raw.gz`,
        sha256: createHash('sha256').update(image).digest('hex'),
        format: 'gz',
        size: 1234,
        rootPartition: 3,
      },
    },
    checkSource: true,
    trustLoopback: true,
    tokens: new InstallTokens(join(dir, 'install-tokens.json')),
    apiToken: 'test-api-token',
    onEvent: (e) => events.push(e),
  });
  const n2 = plan.nodes.find((n) => n.name === 'r01-n02')!;
  const mac = n2.nics[0]!.mac;
  const hy = mac.replaceAll(':', '-');
  /** The install token, from the script the node was served (set by the script test). */
  let token = '';
  const asNode = { 'X-Civostack-Token': '' };

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = { port: (server.address() as AddressInfo).port };
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('refuses an unknown MAC with a clear message and lists it', async () => {
    const r = await call('/ipxe/52-54-00-ff-ff-01.ipxe');
    expect(r.status).toBe(404);
    expect(r.body.toString()).toContain('52:54:00:ff:ff:01 is not in the manifest');
    expect(store.unknown().map((u) => u.mac)).toContain('52:54:00:ff:ff:01');
  });

  it("serves the node's install script to its MAC and records that it asked", async () => {
    const r = await call(`/ipxe/${hy}.ipxe`);
    expect(r.status).toBe(200);
    expect(asRendered(r.body.toString())).toBe(tree.get(`boot/ipxe/${hy}.ipxe`)!.content);
    expect(store.get('r01-n02')!.state).toBe('ipxe');
    token = installTokenIn(r.body.toString());
    asNode['X-Civostack-Token'] = token;
  });

  it('refuses per-node content to another MAC or another source address', async () => {
    const other = plan.nodes[0]!.nics[0]!.mac;
    const headers = asNode;
    expect((await call(`/nodes/r01-n02/seed/user-data?mac=${other}`, { headers })).status).toBe(403);
    expect((await call(`/nodes/r01-n02/seed/user-data`, { headers })).status).toBe(403);
    expect(
      (await call(`/nodes/r01-n02/seed/user-data?mac=${mac}`, { from: '127.0.0.2', headers })).status,
    ).toBe(403);
    expect((await call(`/ipxe/${hy}.ipxe`, { from: '127.0.0.2' })).status).toBe(403);
    const ok = await call(`/nodes/r01-n02/seed/user-data?mac=${mac}`, { headers });
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe(tree.get('nodes/r01-n02/cloud-init/user-data')!.content);
  });

  it('refuses path traversal and malformed paths, and logs them', async () => {
    for (const path of [
      '/nodes/../etc/passwd',
      '/images/%2e%2e%2fetc%2fpasswd',
      '/ipxe/..%2F..%2Fx',
      '/installer//etc',
      '/nodes/r01-n02/seed/%00',
    ]) {
      const r = await call(path);
      expect(r.status, path).toBe(400);
    }
    expect(events.filter((e) => e.kind === 'refused' && e.status === 400).length).toBeGreaterThanOrEqual(5);
  });

  it('tells the installer what to install as shell-quoted lines', async () => {
    const r = await call(`/nodes/r01-n02/install.env?mac=${mac}`, { headers: asNode });
    const env = r.body.toString();
    expect(env).toContain("DISK='/dev/vda'");
    expect(env).toContain("ROOT_PARTITION='3'");
    expect(env).toContain(`IMAGE_SHA256='${createHash('sha256').update(image).digest('hex')}'`);
    expect(env).toContain("SEED_URL='http://10.100.0.5:8080/nodes/r01-n02/seed'");
  });

  it('streams the image whole and by range', async () => {
    const whole = await call('/images/lab-os.raw.gz');
    expect(whole.status).toBe(200);
    expect(whole.body.equals(image)).toBe(true);
    const part = await call('/images/lab-os.raw.gz', { headers: { Range: 'bytes=1048576-1048675' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1048576-1048675/${image.length}`);
    expect(part.body.equals(image.subarray(1048576, 1048676))).toBe(true);
    const tail = await call('/images/lab-os.raw.gz', { headers: { Range: 'bytes=-10' } });
    expect(tail.body.equals(image.subarray(image.length - 10))).toBe(true);
    expect(
      (await call('/images/lab-os.raw.gz', { headers: { Range: `bytes=${image.length}-` } })).status,
    ).toBe(416);
    const head = await call('/images/lab-os.raw.gz', { method: 'HEAD' });
    expect(head.headers['content-length']).toBe(String(image.length));
    expect(head.body.length).toBe(0);
    expect((await call('/images/other.raw.gz')).status).toBe(404);
  });

  it('follows the install: progress, host keys, then the local disk on the next boot', async () => {
    const post = (what: string, body: string, type: string) =>
      call(`/nodes/r01-n02/${what}?mac=${mac}`, {
        method: 'POST',
        body,
        headers: { 'Content-Type': type, ...asNode },
      });
    expect(
      (await post('progress', 'state=installing&percent=42', 'application/x-www-form-urlencoded')).status,
    ).toBe(200);
    expect(store.get('r01-n02')).toMatchObject({ state: 'installing', percent: 42 });
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhvc3Qta2V5LW9mLXIwMS1uMDItZm9yLXRlc3Q root@r01-n02';
    expect((await post('hostkeys', `${key}\nnot a key\n`, 'text/plain')).status).toBe(200);
    expect(store.get('r01-n02')!.hostKeys).toEqual([key]);
    expect((await post('progress', 'state=bogus', 'application/x-www-form-urlencoded')).status).toBe(400);
    expect(
      (await post('progress', 'state=installed&percent=100', 'application/x-www-form-urlencoded')).status,
    ).toBe(200);
    expect(store.get('r01-n02')!.state).toBe('installed');

    const next = await call(`/ipxe/${hy}.ipxe`);
    expect(next.body.toString()).toBe(tree.get('boot/ipxe/local.ipxe')!.content);
    expect(store.get('r01-n02')!.state).toBe('booted-from-disk');
    const states = events
      .filter((e) => e.kind === 'node' && e.node === 'r01-n02')
      .map((e) => (e.kind === 'node' ? e.text : ''));
    expect(states).toEqual(
      expect.arrayContaining(['ipxe', 'installing 42%', 'installed', 'booted-from-disk']),
    );
  });

  it('keeps node states across a restart of the server (read back from the state folder)', () => {
    const again = new NodeStore(
      state,
      plan.nodes.map((n) => n.name),
    );
    expect(again.get('r01-n02')!.state).toBe('booted-from-disk');
    expect(again.get('r01-n01')!.state).toBe('pending');
  });

  it('hands a renamed node the state recorded under its old name, so it is not installed again', () => {
    const renamed = new NodeStore(state, [
      ...plan.nodes.filter((n) => n.name !== 'r01-n02').map((n) => n.name),
      { name: 'r01-w2', renamedFrom: 'r01-n02' },
    ]);
    expect(renamed.get('r01-w2')!.state).toBe('booted-from-disk');
    expect(renamed.get('r01-n02')).toBeUndefined();
    // Written through: the next reader (region status, a restarted server) sees the new name.
    const reread = new NodeStore(state, ['r01-w2']);
    expect(reread.get('r01-w2')!.state).toBe('booted-from-disk');
    expect(reread.get('r01-n02')).toBeUndefined();
  });

  it('serves switch ZTP files only for known switches', async () => {
    expect((await call('/ztp/r01-tor1/ztp.json')).status).toBe(200);
    expect((await call('/ztp/r01-tor1/config_db.json', { from: '127.0.0.2' })).status).toBe(403);
    expect((await call('/ztp/nope/ztp.json')).status).toBe(404);
  });
});
