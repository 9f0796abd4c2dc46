// The boot service's nginx front (Debian's nginx, on loopback): the image and the installer come
// from nginx (sendfile) with ranges, the per-MAC script comes from nginx only to the node's address
// and is recorded, and per-node content behind it is still refused to other MACs and addresses.
// Requests from 127.0.0.2 stand for a host that is not the node's reserved address.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootRuntime, startBootService, type BootService } from '../../src/boot/index.js';
import { nginxPaths, startNginx } from '../../src/boot/nginx.js';
import { UserError } from '../../src/errors.js';
import { stateDirFor } from '../../src/state/index.js';
import { httpCall } from '../helpers/http.js';
import { asRendered, installTokenIn } from '../helpers/install-token.js';
import { LAB, tempDir } from '../helpers/manifest.js';
import { renderFile } from '../helpers/render.js';

const call = httpCall;

const running = (pid: number) => existsSync(`/proc/${pid}`);

/** Polls `check` (nginx's log reaches the service within a few hundred ms). */
async function eventually<T>(check: () => T | undefined, ms = 5000): Promise<T | undefined> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const v = check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('boot service behind its nginx front', () => {
  const { plan, tree } = renderFile(LAB);
  const dir = tempDir('civostack-front-');
  const state = stateDirFor(join(dir, 'lab.yaml'), 'lab1', join(dir, 'state'));
  const image = randomBytes(5 * 1024 * 1024 + 33);
  writeFileSync(join(dir, 'lab-os.raw'), image);
  writeFileSync(join(dir, 'vmlinuz'), 'kernel-bytes');
  writeFileSync(join(dir, 'initrd.img'), 'initrd-bytes');
  const n2 = plan.nodes.find((n) => n.name === 'r01-n02')!;
  const mac = n2.nics[0]!.mac;
  const hy = mac.replaceAll(':', '-');
  const other = plan.nodes.find((n) => n.name !== 'r01-n02')!.nics[0]!.mac;
  const events: string[] = [];
  let service: BootService;
  /** The install token, from the script nginx served the node (set by the script test). */
  const asNode = { 'X-Civostack-Token': '' };
  const start = (port = 0) =>
    startBootService({
      plan,
      tree,
      state,
      listen: { host: '127.0.0.1', port },
      dhcp: 'off',
      checkSource: true,
      // The test's requests come from 127.0.0.1 (standing for the node) and 127.0.0.2 (any other host).
      trustLoopback: true,
      artifacts: {
        kernel: join(dir, 'vmlinuz'),
        initrd: join(dir, 'initrd.img'),
        image: {
          path: join(dir, 'lab-os.raw'),
          url: `${plan.bootstrap.url}/images/lab-os.raw`,
          sha256: createHash('sha256').update(image).digest('hex'),
          format: 'raw',
          size: image.length,
          rootPartition: 3,
        },
      },
      onEvent: (e) => {
        if (e.kind === 'refused') events.push(`refused ${e.status} ${e.path} from ${e.from}`);
        else if (e.kind === 'unknown-mac') events.push(`unknown ${e.mac} from ${e.from}`);
        else if (e.kind === 'node') events.push(`node ${e.node} ${e.state.state}`);
      },
    });

  beforeAll(async () => {
    service = await start();
  });
  afterAll(async () => {
    await service.close();
  });

  it('sends the image from nginx, whole and by range, with the right bytes', async () => {
    const whole = await call(`${service.url}/images/lab-os.raw?mac=${mac}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.server).toBe('nginx');
    // An ETag of nginx's static module ("<mtime>-<size>" in hex): sent by nginx, not through to Node.
    expect(whole.headers.etag).toBe(
      `"${Math.floor(statSync(join(dir, 'lab-os.raw')).mtimeMs / 1000).toString(16)}-${image.length.toString(16)}"`,
    );
    expect(whole.body.equals(image)).toBe(true);
    const part = await call(`${service.url}/images/lab-os.raw`, { headers: { Range: 'bytes=1000-2999999' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-2999999/${image.length}`);
    expect(part.body.equals(image.subarray(1000, 3000000))).toBe(true);
    const tail = await call(`${service.url}/images/lab-os.raw`, { headers: { Range: 'bytes=-17' } });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(image.subarray(image.length - 17))).toBe(true);
    const kernel = await call(`${service.url}/installer/vmlinuz`);
    expect([kernel.status, kernel.headers.server, kernel.body.toString()]).toEqual([
      200,
      'nginx',
      'kernel-bytes',
    ]);
    expect((await call(`${service.url}/images/other.raw`)).status).toBe(404);
  });

  it("sends a node's script only to its address, and records each fetch", async () => {
    const r = await call(`${service.url}/ipxe/${hy}.ipxe`);
    expect(r.status).toBe(200);
    expect(asRendered(r.body.toString())).toBe(tree.get(`boot/ipxe/${hy}.ipxe`)!.content);
    expect(r.headers['cache-control']).toBe('no-store');
    asNode['X-Civostack-Token'] = installTokenIn(r.body.toString());
    expect(await eventually(() => (service.store.get('r01-n02')!.state === 'ipxe' ? true : undefined))).toBe(
      true,
    );
    expect((await call(`${service.url}/ipxe/${hy}.ipxe`, { from: '127.0.0.2' })).status).toBe(403);
    const refusal = `refused 403 /ipxe/${hy}.ipxe from 127.0.0.2`;
    expect(await eventually(() => events.find((e) => e === refusal))).toBe(refusal);
  });

  it('answers an unknown MAC with a clear script and lists it', async () => {
    const r = await call(`${service.url}/ipxe/52-54-00-ff-ff-07.ipxe`);
    expect(r.status).toBe(404);
    expect(r.body.toString()).toContain('MAC 52-54-00-ff-ff-07 is not in the manifest');
    expect(
      await eventually(() => service.store.unknown().find((u) => u.mac === '52:54:00:ff:ff:07')),
    ).toMatchObject({ via: 'http', address: '127.0.0.1' });
  });

  it('still refuses per-node content to another MAC or another source address', async () => {
    const seed = `${service.url}/nodes/r01-n02/seed/user-data`;
    const headers = asNode;
    expect((await call(`${seed}?mac=${other}`, { headers })).status).toBe(403);
    expect((await call(seed, { headers })).status).toBe(403);
    // Through nginx the Node server sees the client's address, not nginx's loopback.
    expect((await call(`${seed}?mac=${mac}`, { from: '127.0.0.2', headers })).status).toBe(403);
    expect((await call(`${service.url}/nodes/r01-n02/install.env?mac=${other}`, { headers })).status).toBe(
      403,
    );
    // The token reaches the Node server through nginx; without it, the right MAC and address are not enough.
    expect((await call(`${seed}?mac=${mac}`)).status).toBe(403);
    const ok = await call(`${seed}?mac=${mac}`, { headers });
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe(tree.get('nodes/r01-n02/cloud-init/user-data')!.content);
    const env = (
      await call(`${service.url}/nodes/r01-n02/install.env?mac=${mac}`, { headers })
    ).body.toString();
    expect(env).toContain(`IMAGE_URL='${plan.bootstrap.url}/images/lab-os.raw'`);
  });

  it('sends local boot once the installer reported the node installed', async () => {
    const posted = await call(`${service.url}/nodes/r01-n02/progress?mac=${mac}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...asNode },
      body: 'state=installed',
    });
    expect(posted.status).toBe(200);
    const r = await call(`${service.url}/ipxe/${hy}.ipxe`);
    expect(r.body.toString()).toBe(tree.get('boot/ipxe/local.ipxe')!.content);
  });

  it("answers the node API through nginx to the holder of the state folder's api.token only", async () => {
    const file = bootRuntime(state).apiToken;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const api = `${service.url}/api/v1/nodes`;
    expect((await call(api)).status).toBe(401);
    const token = readFileSync(file, 'utf8').trim();
    const r = await call(api, { headers: { Authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toHaveProperty('r01-n02');
  });

  it('reports a taken port clearly, and a missing nginx', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    const fails = await start(port).then(
      () => undefined,
      (err: unknown) => err,
    );
    taken.close();
    expect(fails).toBeInstanceOf(UserError);
    expect((fails as UserError).message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    expect((fails as UserError).hint).toMatch(/stop it first/);

    const site = {
      listen: { host: '127.0.0.1', port },
      runtimeDir: tempDir(),
      root: dir,
      upstream: { host: '127.0.0.1', port },
      frontToken: 'test',
      trustLoopback: false,
      scripts: [],
    };
    const missing = await startNginx(join(site.runtimeDir, 'nginx.conf'), site, '/nonexistent/nginx').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(missing).toBeInstanceOf(UserError);
    expect((missing as UserError).message).toBe(
      '/nonexistent/nginx is not installed (pxe serve sends boot images with it)',
    );
    expect((missing as UserError).hint).toMatch(/apt-get install nginx/);
  });

  it('stops nginx with the service, leaving no process, port or published folder', async () => {
    const second = await startBootService({
      plan,
      tree,
      state: stateDirFor(join(dir, 'lab.yaml'), 'lab1', join(dir, 'state2')),
      listen: { host: '127.0.0.1', port: 0 },
      dhcp: 'off',
      artifacts: {},
      onEvent: () => undefined,
    });
    const pid = second.pids.nginx;
    expect(running(pid)).toBe(true);
    await second.close();
    expect(running(pid)).toBe(false);
    expect(existsSync(bootRuntime({ path: join(dir, 'state2') }).httpRoot)).toBe(false);
    await expect(call(`${second.url}/ipxe/boot.ipxe`)).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(nginxPaths(bootRuntime({ path: join(dir, 'state2') }).dir).pid)).toBe(false);
  });
});
