// TenantClusters from the SRE's side: the object `tenant create` sends, refused with the flag named
// when it is wrong, and the kubeconfig `tenant kubeconfig` writes (0600, never printed), against a
// stand-in for the region's API that answers as kube-apiserver does.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { TenantApi, tenantObject, type TenantInput } from '../../src/kube/tenants.js';
import { tempDir } from '../helpers/manifest.js';

const INPUT: TenantInput = {
  name: 'team-a',
  namespace: 'civostack-tenants',
  version: 'v1.35.4',
  replicas: 3,
  workers: 2,
  podCidr: '172.16.0.0/16',
  serviceCidr: '172.17.0.0/16',
  owner: 'acme',
};

describe('tenantObject', () => {
  it('makes the TenantCluster the operator reads', () => {
    expect(tenantObject(INPUT)).toEqual({
      apiVersion: 'civostack.io/v1alpha1',
      kind: 'TenantCluster',
      metadata: { name: 'team-a', namespace: 'civostack-tenants' },
      spec: {
        version: 'v1.35.4',
        controlPlane: { replicas: 3 },
        workers: 2,
        network: { podCIDR: '172.16.0.0/16', serviceCIDR: '172.17.0.0/16' },
        owner: 'acme',
      },
    });
  });

  it.each([
    [{ name: 'Team_A' }, 'name "Team_A": a DNS label'],
    [{ name: 'a'.repeat(41) }, 'at most 40 characters'],
    [{ replicas: 2 }, '--replicas 2: 1, 3, 5 or 7'],
    [{ replicas: 0 }, '--replicas 0'],
    [{ version: '1.35' }, '--version "1.35"'],
    [{ podCidr: '172.16.0.1/16' }, '--pod-cidr "172.16.0.1/16": an IPv4 network'],
    [{ serviceCidr: '172.16.4.0/24' }, '--pod-cidr 172.16.0.0/16 and --service-cidr 172.16.4.0/24 overlap'],
    [{ owner: 'acme inc' }, '--owner "acme inc"'],
    [{ workers: -1 }, '--workers -1'],
  ] as [Partial<TenantInput>, string][])('refuses %j, naming what is wrong', (edit, message) => {
    const build = () => tenantObject({ ...INPUT, ...edit });
    expect(build).toThrow(UserError);
    expect(build).toThrow(message);
  });
});

describe('TenantApi.saveKubeconfig', () => {
  const KUBECONFIG = 'apiVersion: v1\nkind: Config\n# the tenant admin key would be here\n';
  let server: Server;
  let regionKubeconfig: string;
  const dir = tempDir('civostack-tenants-');
  const tenants: Record<string, object> = {
    'team-a': { status: { kubeconfigSecret: 'team-a-admin-kubeconfig' } },
    'team-b': {
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'InvalidSpec',
            message: 'spec.version "v1.99.0" is not built',
          },
        ],
      },
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '';
      const tenant =
        /^\/apis\/civostack\.io\/v1alpha1\/namespaces\/civostack-tenants\/tenantclusters\/([^/?]+)$/.exec(
          url,
        );
      const send = (code: number, body: object) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (tenant && tenants[tenant[1]!])
        return send(200, {
          apiVersion: 'civostack.io/v1alpha1',
          kind: 'TenantCluster',
          metadata: { name: tenant[1], namespace: 'civostack-tenants' },
          spec: { version: 'v1.35.4', controlPlane: { replicas: 1 }, workers: 0, owner: 'acme', network: {} },
          ...tenants[tenant[1]!],
        });
      if (tenant)
        return send(404, {
          kind: 'Status',
          code: 404,
          reason: 'NotFound',
          message: `tenantclusters.civostack.io "${tenant[1]}" not found`,
        });
      if (url === '/api/v1/namespaces/civostack-tenants/secrets/team-a-admin-kubeconfig')
        return send(200, {
          kind: 'Secret',
          apiVersion: 'v1',
          data: { kubeconfig: Buffer.from(KUBECONFIG).toString('base64') },
        });
      send(404, { kind: 'Status', code: 404, message: 'the server could not find the requested resource' });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    regionKubeconfig = join(dir, 'admin.conf');
    writeFileSync(
      regionKubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: r, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: r, user: u}}]\ncurrent-context: c\n`,
    );
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('writes the Secret it names to a 0600 file and returns only the path', async () => {
    const path = await new TenantApi(regionKubeconfig).saveKubeconfig(
      'civostack-tenants',
      'team-a',
      join(dir, 'tenants'),
    );
    expect(path).toBe(join(dir, 'tenants', 'civostack-tenants-team-a.kubeconfig'));
    expect(readFileSync(path, 'utf8')).toBe(KUBECONFIG);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('says why when the tenant has no kubeconfig yet', async () => {
    await expect(
      new TenantApi(regionKubeconfig).saveKubeconfig('civostack-tenants', 'team-b', join(dir, 'tenants')),
    ).rejects.toThrow('has no kubeconfig yet: False (InvalidSpec: spec.version "v1.99.0" is not built)');
  });

  it('names a TenantCluster that does not exist', async () => {
    await expect(
      new TenantApi(regionKubeconfig).saveKubeconfig('civostack-tenants', 'nope', join(dir, 'tenants')),
    ).rejects.toThrow('there is no TenantCluster civostack-tenants/nope');
  });
});
