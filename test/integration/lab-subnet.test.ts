// The lab's bootstrap subnet on the host: a lab that a killed run left behind (host link and namespace,
// nothing running in them) is removed so the next `lab up` can go on; a running lab or anything else
// on that subnet is an error that names it. Real namespaces and veths; needs root.
import { spawn, type ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { claimLabSubnet, LabError } from '../../src/lab/index.js';

const isRoot = process.getuid?.() === 0;
const tag = String(process.pid % 100000);
// A test-only subnet in 10/8 that nothing else here uses.
const subnet = '10.213.77.0/24';
const ns = `civo-stale${tag}`;
const hostDev = `civo-h-t${tag}`;
const dummy = `cvx${tag}`;

const ip = (...args: string[]) => execa('ip', args, { reject: false });

async function abandonedLab(): Promise<void> {
  await ip('netns', 'add', ns);
  await ip('link', 'add', hostDev, 'type', 'veth', 'peer', 'name', 'hostlink', 'netns', ns);
  await ip('-n', ns, 'link', 'add', 'br-r01', 'type', 'bridge');
  await ip('-n', ns, 'link', 'set', 'hostlink', 'master', 'br-r01');
  await ip('addr', 'add', '10.213.77.4/24', 'dev', hostDev);
  await ip('link', 'set', hostDev, 'up');
}

async function routed(): Promise<boolean> {
  const r = await ip('-o', 'route', 'show', subnet);
  return String(r.stdout).trim() !== '';
}

async function namespaces(): Promise<string> {
  return String((await ip('netns', 'list')).stdout);
}

describe.skipIf(!isRoot)('lab subnet on the host', () => {
  let sleeper: ChildProcess | undefined;
  afterEach(async () => {
    sleeper?.kill('SIGKILL');
    sleeper = undefined;
    await ip('link', 'del', 'dev', hostDev);
    await ip('link', 'del', 'dev', dummy);
    await ip('netns', 'del', ns);
  });

  it('is claimed without a word when nothing holds it', async () => {
    const steps: string[] = [];
    await claimLabSubnet(subnet, (s) => steps.push(s));
    expect(steps).toEqual([]);
  });

  it('removes a lab a killed run left behind, and says so', async () => {
    await abandonedLab();
    expect(await routed()).toBe(true);
    const steps: string[] = [];
    await claimLabSubnet(subnet, (s) => steps.push(s));
    expect(steps.join('\n')).toMatch(
      new RegExp(`${ns}: an abandoned lab .* holds ${subnet.replace(/\./g, '\\.')}`),
    );
    expect(await routed()).toBe(false);
    expect(await namespaces()).not.toContain(ns);
    expect((await ip('link', 'show', 'dev', hostDev)).exitCode).not.toBe(0);
  });

  it('refuses a lab that still runs, naming its namespace, and leaves it alone', async () => {
    await abandonedLab();
    sleeper = spawn('ip', ['netns', 'exec', ns, 'sleep', '120'], { stdio: 'ignore' });
    for (let i = 0; i < 50 && String((await ip('netns', 'pids', ns)).stdout).trim() === ''; i++)
      await new Promise((r) => setTimeout(r, 100));
    const err = await claimLabSubnet(subnet, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).message).toContain(`another lab (network namespace ${ns}`);
    expect((err as LabError).message).toContain(`is running on ${subnet}`);
    expect(await routed()).toBe(true);
    expect(await namespaces()).toContain(ns);
  });

  it('refuses a subnet something else on this host routes', async () => {
    // A plain veth (this kernel may lack the dummy driver) standing for any other interface.
    await ip('link', 'add', dummy, 'type', 'veth', 'peer', 'name', `${dummy}p`);
    await ip('addr', 'add', '10.213.77.9/24', 'dev', dummy);
    await ip('link', 'set', dummy, 'up');
    const err = await claimLabSubnet(subnet, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).message).toContain(`this host already routes ${subnet}`);
    expect((err as LabError).message).toContain(`dev ${dummy}`);
    expect(await routed()).toBe(true);
  });
});
