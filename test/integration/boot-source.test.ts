// Who gets a node's boot files: `pxe serve` (authoritative DHCP, HTTP on 0.0.0.0) in a namespace
// this test makes, with two nodes in namespaces of their own that lease their reserved addresses
// from its dnsmasq (busybox udhcpc). Each node gets its own iPXE script, install.env and seed; the
// other node, and any process on the bootstrap host itself (127.0.0.1 or the host's own address),
// is refused them.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { civostack } from '../helpers/cli.js';
import { tempDir } from '../helpers/manifest.js';
import { asRendered, installTokenIn } from '../helpers/install-token.js';
import { inNs, testNet, type TestNet } from '../helpers/netns.js';
import { customOsManifest, pxeServe, stopPxeServe, type PxeServe } from '../helpers/pxe-serve.js';

const BOOTSTRAP = '10.100.0.5';
const NODES = {
  n2: { name: 'r01-n02', mac: '52:54:00:aa:00:02', address: '10.100.0.11' },
  n3: { name: 'r01-n03', mac: '52:54:00:aa:00:03', address: '10.100.0.12' },
} as const;

/** busybox wget from inside `ns`: the body on success, the HTTP status line on refusal. */
async function get(
  ns: string,
  url: string,
  token?: string,
): Promise<{ ok: boolean; body: string; error: string }> {
  const out = join(tempDir(), 'body');
  const header = token === undefined ? [] : ['--header', `X-Civostack-Token: ${token}`];
  const r = await inNs(ns, 'busybox', ['wget', '-q', ...header, '-O', out, url], { reject: false });
  return {
    ok: r.exitCode === 0,
    body: r.exitCode === 0 ? readFileSync(out, 'utf8') : '',
    error: String(r.stderr),
  };
}

describe('boot server source addresses (pxe serve on 0.0.0.0, nodes in namespaces)', () => {
  let net: TestNet;
  let serve: PxeServe;
  let rendered: string;
  const file = customOsManifest();
  const state = join(tempDir(), 'state');
  const base = `http://${BOOTSTRAP}:8080`;
  const seed = (node: string, mac: string, part: string) => `${base}/nodes/${node}/seed/${part}?mac=${mac}`;
  const refusedLine = (from: string) =>
    `from ${from}: 403 ${NODES.n2.name} is reserved for ${NODES.n2.address}, not ${from}`;

  beforeAll(async () => {
    net = await testNet('cvpfs', `${BOOTSTRAP}/24`, ['n2', 'n3']);
    serve = await pxeServe(net.server, file, state, ['--listen', '0.0.0.0']);
    // The node's DHCP client puts its lease on the interface, as the installer's does.
    const hook = join(tempDir(), 'udhcpc.sh');
    writeFileSync(hook, '#!/bin/sh\n[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"\nexit 0\n');
    chmodSync(hook, 0o755);
    for (const key of ['n2', 'n3'] as const) {
      const ns = net.clients[key]!;
      await inNs(ns, 'ip', ['link', 'set', 'eth0', 'address', NODES[key].mac]);
      const lease = await inNs(
        ns,
        'busybox',
        ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', hook],
        {
          reject: false,
        },
      );
      expect(lease.exitCode, `${String(lease.stderr)}\n${serve.out()}`).toBe(0);
    }
    // The same files, rendered from the same state folder (same secrets) by region render.
    rendered = join(tempDir(), 'render');
    const r = await civostack(['region', 'render', file, '--state-dir', state, '--out', rendered]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(async () => {
    if (serve) expect(await stopPxeServe(serve), serve.out()).toBe(0);
    await net?.close();
  });

  it('listens on every address, and each node holds the address DHCP reserved for it', async () => {
    expect(String((await inNs(net.server, 'ss', ['-lnt'])).stdout)).toMatch(/0\.0\.0\.0:8080\b/);
    for (const key of ['n2', 'n3'] as const) {
      const addr = await inNs(net.clients[key]!, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(String(addr.stdout)).toContain(`inet ${NODES[key].address}/24`);
    }
  });

  it('serves a node its iPXE script, install.env and seed from its reserved address', async () => {
    const { name, mac } = NODES.n2;
    const ns = net.clients['n2']!;
    const hy = mac.replaceAll(':', '-');
    const script = await get(ns, `${base}/ipxe/${hy}.ipxe`);
    expect(script.error).toBe('');
    expect(asRendered(script.body)).toBe(readFileSync(join(rendered, `boot/ipxe/${hy}.ipxe`), 'utf8'));
    const token = installTokenIn(script.body);
    const env = await get(ns, `${base}/nodes/${name}/install.env?mac=${mac}`, token);
    expect(env.body).toContain(`NODE='${name}'`);
    for (const part of ['meta-data', 'user-data', 'network-config']) {
      const r = await get(ns, seed(name, mac, part), token);
      expect(r.error, part).toBe('');
      expect(r.body, part).toBe(readFileSync(join(rendered, `nodes/${name}/cloud-init/${part}`), 'utf8'));
    }
    // The other node reaches the server too, for its own files.
    const n3 = net.clients['n3']!;
    const n3Script = await get(n3, `${base}/ipxe/${NODES.n3.mac.replaceAll(':', '-')}.ipxe`);
    const own = await get(n3, seed(NODES.n3.name, NODES.n3.mac, 'meta-data'), installTokenIn(n3Script.body));
    expect(own.ok, own.error).toBe(true);
  });

  it("refuses a node's seed and script to another node, even with the right MAC", async () => {
    const { name, mac } = NODES.n2;
    const other = net.clients['n3']!;
    const r = await get(other, seed(name, mac, 'user-data'));
    expect(r.ok).toBe(false);
    expect(r.error).toContain('403');
    expect(serve.out()).toContain(refusedLine(NODES.n3.address));
    expect((await get(other, `${base}/ipxe/${mac.replaceAll(':', '-')}.ipxe`)).error).toContain('403');
  });

  it("refuses a node's seed and script to a process on the bootstrap host itself", async () => {
    const { name, mac } = NODES.n2;
    for (const [host, from] of [
      ['127.0.0.1', '127.0.0.1'],
      [BOOTSTRAP, BOOTSTRAP],
    ] as const) {
      const local = `http://${host}:8080`;
      const r = await get(net.server, `${local}/nodes/${name}/seed/user-data?mac=${mac}`);
      expect(r.ok, host).toBe(false);
      expect(r.error, host).toContain('403');
      expect(serve.out()).toContain(refusedLine(from));
      const script = await get(net.server, `${local}/ipxe/${mac.replaceAll(':', '-')}.ipxe`);
      expect(script.error, host).toContain('403');
    }
    // Not a dead server: what is not per node is still served to it.
    expect((await get(net.server, 'http://127.0.0.1:8080/ipxe/boot.ipxe')).ok).toBe(true);
  });
});
