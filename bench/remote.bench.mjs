// Benchmark of the remote layer's fan-out against Ansible, on real OpenSSH servers: 50 and 200
// hosts, each a network namespace with its own sshd, host key and /srv (src/lab/ssh-fleet.ts). The
// same three steps on every host, with the same concurrency: upload a 10 MB artifact, write a config
// file, run a command. Both sides are timed as whole commands from spawn to exit:
//   civostack: `node bench/remote-steps.mjs job.json steps` (a script calling the built dist/remote layer)
//   Ansible:   `ansible-playbook -i inventory.ini play.yml` (Debian's ansible; forks = concurrency,
//              pipelining on, host key checking on against a known_hosts written from the fleet)
// Then the 10 MB artifact alone, three ways (exec stdin, sftp, nodes pulling over HTTP + sha256).
// Every file is checked on every host after each run; each run starts from empty hosts.
//
//   npm run bench:remote        (builds first; needs root, openssh-server, ansible, curl)
//   node bench/remote.bench.mjs [--hosts 50,200] [--concurrency 30] [--artifact-hosts 200]
// Results: a table on stdout and bench/out/remote-results.json.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './machine.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const OUT = join(HERE, 'out');
const DIST = new URL('../dist/', import.meta.url);
const PREFIX = 'cvrm-b';
const NETWORK = '10.203.0.0/17';
const TARGET = 5;

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const sizes = arg('--hosts', '50,200').split(',').map(Number);
const concurrency = Number(arg('--concurrency', '30'));
const artifactHosts = Number(arg('--artifact-hosts', String(Math.max(...sizes))));

for (const p of ['ansible-playbook', 'sshd', 'curl', 'ip']) {
  if (spawnSync('sh', ['-c', `command -v ${p} || test -x /usr/sbin/${p}`]).status !== 0)
    throw new Error(`${p} is missing: run bash .ci/setup (Debian: openssh-server, ansible, curl, iproute2)`);
}
if (process.getuid() !== 0) throw new Error('the remote bench makes network namespaces: run it as root');

const { startSshFleet, destroySshFleet } = await import(new URL('lab/ssh-fleet.js', DIST).href);

/** Runs a command to its end; resolves with its wall time. Output is kept for a failure message. */
function timed(argv, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out = (out + d).slice(-20000)));
    child.stderr.on('data', (d) => (out = (out + d).slice(-20000)));
    child.on('close', (code) => {
      const s = (performance.now() - t0) / 1000;
      if (code === 0) resolve(s);
      else reject(new Error(`${argv.join(' ')} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

const dir = mkdtempSync('/dev/shm/cvrm-bench-'); // tmpfs: 200 × 10 MB on disk would measure the disk
chmodSync(dir, 0o755);
let fleet;
const cleanUp = async () => {
  await destroySshFleet(PREFIX);
  rmSync(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => void cleanUp().then(() => process.exit(130)));

const results = { machine: machineInfo(), concurrency, runs: [], artifact: [] };
try {
  const count = Math.max(...sizes, artifactHosts);
  let t0 = performance.now();
  fleet = await startSshFleet({ prefix: PREFIX, count, network: NETWORK, dir });
  console.log(`fleet: ${count} sshd in namespaces in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const blob = join(dir, 'blob.bin');
  const blobBytes = randomBytes(10 * 1024 * 1024);
  writeFileSync(blob, blobBytes);
  const blobSha256 = createHash('sha256').update(blobBytes).digest('hex');
  const config = 'cluster:\n  name: bench\n  apiVip: 10.203.0.5\n  nodes: 200\n';
  writeFileSync(join(dir, 'config.yaml'), config);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, fleet.hosts.map((h) => `${h.address} ${h.hostKey}`).join('\n') + '\n');

  const reset = () => {
    for (const h of fleet.hosts) {
      rmSync(join(h.srv, 'civostack'), { recursive: true, force: true });
      rmSync(join(h.srv, '..', 'root', '.ansible'), { recursive: true, force: true });
    }
  };
  const verify = (hosts, what, withConfig) => {
    for (const h of hosts) {
      const b = readFileSync(join(h.srv, 'civostack/images/blob.bin'));
      if (createHash('sha256').update(b).digest('hex') !== blobSha256)
        throw new Error(`${what}: ${h.name} has a wrong blob`);
      if (withConfig) {
        const c = join(h.srv, 'civostack/config.yaml');
        if (readFileSync(c, 'utf8') !== config || (statSync(c).mode & 0o777) !== 0o640)
          throw new Error(`${what}: ${h.name} has a wrong config file`);
      }
    }
  };
  const writeJob = (hosts, name) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        hosts: hosts.map((h) => ({ name: h.name, address: h.address, hostKey: h.hostKey })),
        privateKey: fleet.clientKey,
        concurrency,
        blob,
        blobSha256,
        config,
        state: join(dir, 'state'),
        httpAddress: NETWORK.replace(/0\/\d+$/, '1'),
      }),
    );
    return file;
  };
  const civostack = (job, mode) => timed([process.execPath, join(HERE, 'remote-steps.mjs'), job, mode]);

  const ansibleDir = join(dir, 'ansible');
  mkdirSync(ansibleDir, { recursive: true });
  writeFileSync(
    join(ansibleDir, 'ansible.cfg'),
    [
      '[defaults]',
      `forks = ${concurrency}`,
      'host_key_checking = True',
      'interpreter_python = /usr/bin/python3',
      'gathering = explicit',
      'retry_files_enabled = False',
      `private_key_file = ${fleet.clientKey}`,
      'remote_user = root',
      `local_tmp = ${join(ansibleDir, 'tmp')}`,
      '[ssh_connection]',
      'pipelining = True',
      `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes`,
      `control_path_dir = ${join(ansibleDir, 'cp')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(ansibleDir, 'play.yml'),
    [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - name: artifact',
      `      copy: { src: ${blob}, dest: /srv/civostack/images/blob.bin, mode: "0644" }`,
      '    - name: config',
      `      copy: { src: ${join(dir, 'config.yaml')}, dest: /srv/civostack/config.yaml, mode: "0640" }`,
      '    - name: command',
      '      command: sha256sum /srv/civostack/images/blob.bin',
      '',
    ].join('\n'),
  );
  const ansible = async (hosts) => {
    writeFileSync(
      join(ansibleDir, 'inventory.ini'),
      hosts.map((h) => `${h.name} ansible_host=${h.address}`).join('\n') + '\n',
    );
    return timed(
      ['ansible-playbook', '-i', join(ansibleDir, 'inventory.ini'), join(ansibleDir, 'play.yml')],
      {
        ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'),
      },
    );
  };
  // Ansible's copy does not create a missing parent folder: give both tools the same /srv/civostack/images.
  const prepare = (hosts) => {
    reset();
    for (const h of hosts) mkdirSync(join(h.srv, 'civostack/images'), { recursive: true });
  };

  for (const n of sizes) {
    const hosts = fleet.hosts.slice(0, n);
    prepare(hosts);
    const c = await civostack(writeJob(hosts, `job-${n}`), 'steps');
    verify(hosts, `civostack at ${n}`, true);
    prepare(hosts);
    const a = await ansible(hosts);
    verify(hosts, `ansible at ${n}`, true);
    const row = {
      hosts: n,
      civostackSeconds: +c.toFixed(2),
      ansibleSeconds: +a.toFixed(2),
      speedup: +(a / c).toFixed(1),
    };
    results.runs.push(row);
    console.log(
      `${n} hosts: civostack ${c.toFixed(1)} s, ansible ${a.toFixed(1)} s: ${(a / c).toFixed(1)}× faster`,
    );
  }

  const hosts = fleet.hosts.slice(0, artifactHosts);
  const job = writeJob(hosts, 'artifact');
  for (const mode of ['artifact-exec', 'artifact-sftp', 'artifact-http']) {
    prepare(hosts);
    const s = await civostack(job, mode);
    verify(hosts, mode, false);
    results.artifact.push({
      hosts: artifactHosts,
      method: mode.replace('artifact-', ''),
      seconds: +s.toFixed(2),
    });
    console.log(`10 MB to ${artifactHosts} hosts by ${mode.replace('artifact-', '')}: ${s.toFixed(1)} s`);
  }

  const last = results.runs.find((r) => r.hosts === 200);
  results.target = { speedupAt200: TARGET, met: last ? last.speedup >= TARGET : undefined };
  if (!existsSync(OUT)) mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'remote-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.table(results.runs);
  console.table(results.artifact);
} finally {
  await cleanUp();
}
