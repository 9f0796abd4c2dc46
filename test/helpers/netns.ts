// Network namespaces for integration tests: a "server" namespace with a bridge that holds the
// bootstrap address, and one namespace per client, cabled to that bridge by a veth. Every name
// starts with the caller's prefix and the test process id, so a leftover of a killed run is found
// (its process is gone) and removed with whatever it left running inside.
import { execa } from 'execa';

export interface TestNet {
  readonly server: string;
  /** Client namespace names by the key given to `testNet`; each has its end of the cable as `eth0`. */
  readonly clients: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

export const inNs = (ns: string, cmd: string, args: readonly string[], opts: { reject?: boolean } = {}) =>
  execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: opts.reject ?? true, timeout: 30_000 });

/** Kills what runs inside a namespace (processes the test started there), then deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  const pids = (await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout.split('\n');
  for (const pid of pids.map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await execa('ip', ['netns', 'del', ns], { reject: false });
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces `<prefix>-<pid>-…` whose test process is no longer running. */
async function removeLeftovers(prefix: string): Promise<void> {
  const list = (await execa('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '');
  const mine = new RegExp(`^${prefix}-(\\d+)-`);
  for (const ns of list) {
    const m = mine.exec(ns);
    if (m && !running(Number(m[1]))) await removeNamespace(ns);
  }
}

/**
 * `prefix` (at most 6 characters) names everything; `address` (CIDR) goes on the server's bridge.
 * The veths are created directly inside the namespaces: nothing is ever added to the host's own.
 */
export async function testNet(prefix: string, address: string, clients: readonly string[]): Promise<TestNet> {
  await removeLeftovers(prefix);
  const tag = `${prefix}-${process.pid}`;
  const server = `${tag}-srv`;
  const names = Object.fromEntries(clients.map((c) => [c, `${tag}-${c}`]));
  const created: string[] = [];
  const close = async () => {
    for (const ns of created.reverse()) await removeNamespace(ns);
  };
  try {
    await execa('ip', ['netns', 'add', server]);
    created.push(server);
    await inNs(server, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await inNs(server, 'ip', ['addr', 'add', address, 'dev', 'br0']);
    for (const dev of ['lo', 'br0']) await inNs(server, 'ip', ['link', 'set', dev, 'up']);
    for (const [i, c] of clients.entries()) {
      const ns = names[c]!;
      await execa('ip', ['netns', 'add', ns]);
      created.push(ns);
      await execa('ip', [
        '-n',
        server,
        'link',
        'add',
        `p${i}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await inNs(server, 'ip', ['link', 'set', `p${i}`, 'master', 'br0']);
      await inNs(server, 'ip', ['link', 'set', `p${i}`, 'up']);
      for (const dev of ['lo', 'eth0']) await inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { server, clients: names, close };
}
