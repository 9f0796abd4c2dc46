// Benchmark of the boot server against Debian's nginx, on loopback: per-MAC iPXE scripts under 1,000
// concurrent connections, and a 100 MiB OS image under 8, 32 and 100 concurrent downloads.
//
// The civostack boot service runs in a child process as `pxe serve` runs it (its nginx front and the
// Node server behind it; the CPU figures count both and nginx's workers), built from the shipped lab
// inventory, with the source check on (127.0.0.1 is allowed by design, 127.0.0.2 must be refused)
// and a real NodeStore: every iPXE fetch is recorded, as in production. The reference nginx runs
// with its own config in the temp folder (sendfile on, access log off), serving the same image file
// and a static copy of the same script. The load comes from wrk (a separate native process).
//
//   npm run bench:boot                   (builds first; the bench imports the compiled dist/)
//   node bench/boot.bench.mjs [--duration S] [--image-conns 8,32,100] [--script-conns 1000]
//                             [--pace-ms 1000] [--nginx-workers auto] [--image-rounds 1] [--profile]
// --profile runs the boot server under --cpu-prof and prints where its time goes (skews the figures).
// Results: a table on stdout and bench/out/boot-results.json.
import { execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './machine.mjs';

const { fetch } = globalThis; // Node 20's; eslint's globals here are the plain-JS ones
const HERE = fileURLToPath(new URL('.', import.meta.url));
const OUT = join(HERE, 'out');
const DIST = new URL('../dist/', import.meta.url);
const LAB = fileURLToPath(new URL('../inventories/lab.yaml', import.meta.url));
const IMAGE_NAME = 'lab-os.raw';
const IMAGE_BYTES = 100 * 1024 * 1024;
/** The node whose per-MAC script every client asks for (r01-n02 in lab.yaml). */
const MAC = '52:54:00:aa:00:02';
/** The targets of the issue. */
const TARGET_RATIO = 0.9;
const TARGET_CPU_RATIO = 2;
const TARGET_P99_RATIO = 3;

const round = (x, d = 1) => (x === undefined || x === null ? x : Math.round(x * 10 ** d) / 10 ** d);

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

// ---- child: the civostack boot server ----
async function child(dir) {
  const { loadRegion } = await import(new URL('manifest/index.js', DIST).href);
  const { planRegion } = await import(new URL('plan/index.js', DIST).href);
  const { renderRegion, secretValues, DEFAULT_BOOT_OPTIONS } = await import(
    new URL('render/index.js', DIST).href
  );
  const { loadTemplates } = await import(new URL('cli/templates.js', DIST).href);
  const { stateDirFor } = await import(new URL('state/index.js', DIST).href);
  const { startBootService } = await import(new URL('boot/index.js', DIST).href);

  const loaded = loadRegion(LAB);
  if (!loaded.ok) throw new Error(`${LAB} is not valid: ${loaded.diagnostics[0]?.message}`);
  const { plan } = planRegion(loaded.region, {}, { prune: false });
  const tree = renderRegion({
    plan,
    templates: loadTemplates(),
    secrets: secretValues(new Map(plan.secrets.map((s) => [s.name, `bench-secret-${s.name}`]))),
    authorizedKeys: [
      ...plan.os.sshAuthorizedKeys,
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNpdm9zdGFjay10ZXN0LWtleS1ub3QtZm9yLXVzZQ civostack@bench',
    ],
    boot: DEFAULT_BOOT_OPTIONS,
  });
  const state = stateDirFor(join(dir, 'lab.yaml'), 'lab1', join(dir, 'state'));
  const image = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8'));
  const events = {};
  // The boot service as `pxe serve` runs it (nginx in front of the Node server), without DHCP, with
  // the source check on (127.0.0.1 is allowed by design; 127.0.0.2 is not).
  const service = await startBootService({
    plan,
    tree,
    state,
    listen: { host: '127.0.0.1', port: 0 },
    dhcp: 'off',
    checkSource: true,
    artifacts: {
      image: {
        path: join(dir, IMAGE_NAME),
        url: `${plan.bootstrap.url}/images/${IMAGE_NAME}`,
        sha256: image.sha256,
        format: 'raw',
        size: image.size,
        rootPartition: 3,
      },
    },
    // The load comes from 127.0.0.1, not the node's reserved address; the check itself still runs.
    trustLoopback: true,
    onEvent: (e) => {
      const k = e.kind === 'refused' ? `refused ${e.status}: ${e.reason}` : e.kind;
      events[k] = (events[k] ?? 0) + 1;
    },
  });
  // The static copy nginx serves: what this server answers the node while it is not installed.
  const hy = MAC.replaceAll(':', '-');
  const script = tree.get(`boot/ipxe/${hy}.ipxe`);
  if (!script) throw new Error(`no rendered script for ${MAC}`);
  mkdirSync(join(dir, 'www', 'ipxe'), { recursive: true });
  writeFileSync(join(dir, 'www', 'ipxe', `${hy}.ipxe`), script.content);

  const stop = async () => {
    await service.close();
    process.exit(0); // writes the --cpu-prof profile
  };
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('message', (m) => {
    if (m === 'stats') process.send({ stats: { events, nodes: service.store.all() } });
    if (m === 'stop') void stop();
  });
  process.send({ port: Number(new URL(service.url).port) });
}

// ---- parent ----
const started = [];
function killAll() {
  for (const p of started.reverse()) {
    if (p.exitCode === null && p.signalCode === null) {
      try {
        p.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function has(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensure(cmd, pkg) {
  if (has(cmd) || existsSync(`/usr/sbin/${cmd}`)) return;
  if (process.getuid?.() !== 0) throw new Error(`${cmd} is missing: apt-get install -y ${pkg}`);
  process.stderr.write(`  installing ${pkg} (apt-get)\n`);
  execFileSync('apt-get', ['install', '-y', '-q', pkg], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** 100 MiB of random bytes (no compression shortcut anywhere), and its SHA-256. */
function writeImage(path) {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let left = IMAGE_BYTES; left > 0; left -= 1 << 20) {
      const chunk = randomBytes(Math.min(left, 1 << 20));
      hash.update(chunk);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function nginxConf(dir, port, workers) {
  const d = (p) => join(dir, p);
  mkdirSync(d('nginx-tmp'), { recursive: true });
  return `# civostack bench: nginx on loopback, the same files as the boot server.
${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes ${workers};
daemon off;
pid ${d('nginx.pid')};
error_log ${d('nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  types { text/plain ipxe; }
  client_body_temp_path ${d('nginx-tmp/body')};
  proxy_temp_path ${d('nginx-tmp/proxy')};
  fastcgi_temp_path ${d('nginx-tmp/fastcgi')};
  uwsgi_temp_path ${d('nginx-tmp/uwsgi')};
  scgi_temp_path ${d('nginx-tmp/scgi')};
  server {
    listen 127.0.0.1:${port};
    root ${d('www')};
    location / { }
  }
}
`;
}

/** wrk's summary as JSON (the Lua done() hook), and an optional think time per connection. */
const WRK_LUA = `
local pace = tonumber(os.getenv("WRK_PACE_MS") or "0")
if pace > 0 then
  function setup(thread) end
  function init(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
  function delay() return math.random(math.floor(pace / 2), math.floor(pace * 3 / 2)) end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"bytes":%d,"durationUs":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
`;

/** CPU ticks (utime+stime) of processes and all their descendants (nginx's master and workers). */
function procTicks(pids) {
  const procs = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(e), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone
    }
  }
  const all = new Set(pids);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs)
      if (!all.has(p.pid) && all.has(p.ppid)) {
        all.add(p.pid);
        grew = true;
      }
  }
  return procs.filter((p) => all.has(p.pid)).reduce((a, p) => a + p.ticks, 0);
}
/** TcpExt ListenOverflows: connections a full accept queue turned away (machine-wide). */
function listenOverflows() {
  const lines = readFileSync('/proc/net/netstat', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf('ListenOverflows');
  return i > 0 ? Number(values[i]) : 0;
}

/** Machine-wide busy and total jiffies. */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

async function wrk(wrkArgs, lua, env = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-s', lua, ...wrkArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    started.push(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || !line) reject(new Error(`wrk ${wrkArgs.join(' ')} failed (${code}): ${err}${out}`));
      else resolve({ ...JSON.parse(line.slice('WRKJSON '.length)), text: out.replace(/^WRKJSON.*\n/m, '') });
    });
  });
}

async function measure(label, url, { conns, threads, duration, serverPids, pace = 0, timeout = '60s' }) {
  const m0 = machineTicks();
  const s0 = procTicks(serverPids);
  const o0 = listenOverflows();
  const t0 = performance.now();
  const r = await wrk(
    [
      '-t',
      String(threads),
      '-c',
      String(conns),
      '-d',
      `${duration}s`,
      '--timeout',
      timeout,
      '--latency',
      url,
    ],
    LUA_PATH,
    pace ? { WRK_PACE_MS: String(pace) } : {},
  );
  const wall = (performance.now() - t0) / 1000;
  const m1 = machineTicks();
  const s1 = procTicks(serverPids);
  const listenOverflowed = listenOverflows() - o0;
  const drainS = await settle(url);
  const hz = 100; // USER_HZ on Linux
  const secs = r.durationUs / 1e6;
  const res = {
    label,
    url,
    conns,
    threads,
    paceMs: pace || undefined,
    durationS: secs,
    requests: r.requests,
    rps: r.requests / secs,
    bytes: r.bytes,
    MBps: r.bytes / secs / 1e6,
    latencyMs: Object.fromEntries(Object.entries(r.latencyUs).map(([k, v]) => [k, v / 1000])),
    errors: r.errors,
    serverCpuPct: ((s1 - s0) / hz / wall) * 100,
    serverCpuSPerGB: r.bytes > 0 ? (s1 - s0) / hz / (r.bytes / 1e9) : undefined,
    drainS,
    listenOverflows: listenOverflowed,
    machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100,
  };
  const errs = Object.entries(r.errors).filter(([, v]) => v > 0);
  process.stderr.write(
    `  ${label.padEnd(34)} ${round(res.rps, 0)} req/s, ${round(res.MBps, 0)} MB/s, p50 ${round(
      res.latencyMs.p50,
      2,
    )} ms, p99 ${round(res.latencyMs.p99, 2)} ms, server CPU ${round(res.serverCpuPct, 0)}%` +
      (drainS > 0.5 ? `, drained its backlog in ${round(drainS, 1)} s after wrk stopped` : '') +
      (errs.length ? `, errors ${errs.map(([k, v]) => `${k} ${v}`).join(' ')}` : '') +
      '\n',
  );
  return res;
}

/** Several runs of one server as one: totals of bytes, time and CPU; the worst latencies and errors. */
function combine(runs) {
  const bytes = runs.reduce((a, r) => a + r.bytes, 0);
  const secs = runs.reduce((a, r) => a + r.durationS, 0);
  const cpuS = runs.reduce((a, r) => a + (r.serverCpuSPerGB ?? 0) * (r.bytes / 1e9), 0);
  const errors = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    ...runs[0],
    durationS: secs,
    requests: runs.reduce((a, r) => a + r.requests, 0),
    bytes,
    MBps: bytes / secs / 1e6,
    serverCpuPct: (cpuS / secs) * 100,
    serverCpuSPerGB: bytes > 0 ? cpuS / (bytes / 1e9) : undefined,
    machineBusyPct: runs.reduce((a, r) => a + r.machineBusyPct * r.durationS, 0) / secs,
    errors,
    runs: runs.map((r) => ({
      MBps: r.MBps,
      serverCpuSPerGB: r.serverCpuSPerGB,
      machineBusyPct: r.machineBusyPct,
    })),
  };
}

/** The HTTP status of a GET of `url` sent from `localAddress`. */
function statusFrom(localAddress, url) {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
  });
}

/**
 * Waits until the server answers a HEAD at once again: requests wrk had sent before it stopped may
 * still be queued in the server. Returns how long that took, in seconds.
 */
async function settle(url, limitS = 60) {
  const t0 = performance.now();
  for (;;) {
    const t = performance.now();
    await fetch(url, { method: 'HEAD' }).catch(() => undefined);
    if (performance.now() - t < 50 || performance.now() - t0 > limitS * 1000)
      return (performance.now() - t0) / 1000;
  }
}

/** Self time by function in a .cpuprofile, top n. */
function profileSummary(file, n = 15) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(prof.samples[i]);
    const cf = node.callFrame;
    const url = cf.url ? cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '') : '';
    const key = `${cf.functionName || '(anonymous)'} ${url}${url ? `:${cf.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, ms: us / 1000, pct: (us / total) * 100 }));
}

let LUA_PATH;

async function parent() {
  const duration = Number(arg('--duration', '10'));
  const imageConns = arg('--image-conns', '8,32,100').split(',').map(Number);
  const scriptConns = Number(arg('--script-conns', '1000'));
  const paceMs = Number(arg('--pace-ms', '1000'));
  const nginxWorkers = arg('--nginx-workers', 'auto');
  const imageRounds = Number(arg('--image-rounds', '1'));
  const profile = process.argv.includes('--profile');
  const skipScripts = process.argv.includes('--image-only');
  const threads = Math.max(1, Math.min(2, os.cpus().length));
  mkdirSync(OUT, { recursive: true });
  const t0 = performance.now();
  const loadBefore = os.loadavg();

  ensure('wrk', 'wrk');
  let withNginx = true;
  try {
    ensure('nginx', 'nginx');
  } catch (err) {
    withNginx = false;
    process.stderr.write(`  no nginx (${err.message}): civostack only\n`);
  }

  const dir = mkdtempSync(join(os.tmpdir(), 'civostack-bench-boot-'));
  const cleanup = () => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));

  LUA_PATH = join(dir, 'bench.lua');
  writeFileSync(LUA_PATH, WRK_LUA);
  process.stderr.write(`  writing a ${IMAGE_BYTES / 2 ** 20} MiB image of random bytes in ${dir}\n`);
  const imagePath = join(dir, IMAGE_NAME);
  const sha256 = writeImage(imagePath);
  writeFileSync(join(dir, 'image.json'), JSON.stringify({ sha256, size: IMAGE_BYTES }));
  mkdirSync(join(dir, 'www', 'images'), { recursive: true });
  linkSync(imagePath, join(dir, 'www', 'images', IMAGE_NAME)); // the same inode: the same page cache

  // The civostack boot server, in its own process.
  const profDir = join(OUT, 'boot-profile');
  if (profile) {
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
  }
  const civo = fork(fileURLToPath(import.meta.url), ['--child', dir], {
    execArgv: profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  started.push(civo);
  const civoPort = await new Promise((resolve, reject) => {
    civo.once('message', (m) => resolve(m.port));
    civo.once('exit', (code) => reject(new Error(`the boot server exited (${code})`)));
  });
  const civoBase = `http://127.0.0.1:${civoPort}`;

  let nginx;
  let nginxBase;
  if (withNginx) {
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConf(dir, port, nginxWorkers));
    const bin = has('nginx') ? 'nginx' : '/usr/sbin/nginx';
    // Its own session, as pxe serve starts its nginx: with autogroup scheduling (the kernel's
    // default on desktops and many servers) a session is one group for CPU shares, and an nginx
    // in the session of wrk and this bench got twice the throughput of the same nginx in its own.
    nginx = spawn(bin, ['-c', conf, '-p', dir, '-e', join(dir, 'nginx-error.log')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    started.push(nginx);
    nginxBase = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        await fetch(`${nginxBase}/images/${IMAGE_NAME}`, { method: 'HEAD' });
        break;
      } catch (err) {
        if (i > 50 || nginx.exitCode !== null) throw new Error(`nginx did not start: ${err.message}`);
        await sleep(100);
      }
    }
  }

  // Both serve the same bytes.
  const hy = MAC.replaceAll(':', '-');
  const scriptPath = `/ipxe/${hy}.ipxe`;
  const imageUrlPath = `/images/${IMAGE_NAME}`;
  const civoScript = await (await fetch(civoBase + scriptPath)).text();
  if (!civoScript.startsWith('#!ipxe')) throw new Error(`unexpected script from civostack: ${civoScript}`);
  const civoImage = await fetch(civoBase + imageUrlPath, { method: 'HEAD' });
  if (Number(civoImage.headers.get('content-length')) !== IMAGE_BYTES)
    throw new Error('civostack image size');
  if (nginx) {
    const ngScript = await (await fetch(nginxBase + scriptPath)).text();
    if (ngScript !== civoScript) throw new Error('nginx serves another script than civostack');
    const ngImage = await fetch(nginxBase + imageUrlPath, { method: 'HEAD' });
    if (Number(ngImage.headers.get('content-length')) !== IMAGE_BYTES) throw new Error('nginx image size');
  }
  // The node's script goes to 127.0.0.1 (allowed by design) and never to 127.0.0.2 (not its address).
  const authorised = { allowed: [], refused: [] };
  const probeAuth = async () => {
    authorised.allowed.push(await statusFrom('127.0.0.1', civoBase + scriptPath));
    authorised.refused.push(await statusFrom('127.0.0.2', civoBase + scriptPath));
  };
  await probeAuth();
  // Warm the page cache and both servers (JIT for civostack).
  execFileSync('cat', [imagePath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const servers = [{ name: 'civostack', base: civoBase, pids: [civo.pid] }];
  if (nginx) servers.push({ name: 'nginx', base: nginxBase, pids: [nginx.pid] });
  process.stderr.write(`  warm-up\n`);
  for (const s of servers) {
    await measure(`warm-up ${s.name}`, s.base + scriptPath, {
      conns: 100,
      threads,
      duration: 2,
      serverPids: s.pids,
    });
  }

  const results = { scripts: [], scriptsPaced: [], image: [] };
  process.stderr.write(`  scripts: ${scriptConns} connections, ${duration} s each\n`);
  for (const s of skipScripts ? [] : servers) {
    results.scripts.push({
      server: s.name,
      ...(await measure(`script ${s.name} c=${scriptConns}`, s.base + scriptPath, {
        conns: scriptConns,
        threads,
        duration,
        serverPids: s.pids,
        timeout: '10s',
      })),
    });
  }
  if (paceMs > 0 && !skipScripts) {
    process.stderr.write(
      `  scripts: ${scriptConns} connections, each waiting ~${paceMs} ms between requests\n`,
    );
    for (const s of servers) {
      results.scriptsPaced.push({
        server: s.name,
        ...(await measure(`script ${s.name} c=${scriptConns} paced`, s.base + scriptPath, {
          conns: scriptConns,
          threads,
          duration,
          serverPids: s.pids,
          pace: paceMs,
          timeout: '10s',
        })),
      });
    }
  }
  process.stderr.write(`  image: ${IMAGE_BYTES / 2 ** 20} MiB downloads, ${duration} s each\n`);
  // Each pair twice per round, in the order A B B A: on a shared machine the load drifts during a run, and
  // whichever server went first would otherwise be favoured or penalised.
  for (const c of imageConns) {
    const runs = [];
    const order = [...servers, ...[...servers].reverse()];
    for (const s of Array.from({ length: imageRounds }, () => order).flat()) {
      runs.push({
        server: s.name,
        ...(await measure(`image ${s.name} c=${c}`, s.base + imageUrlPath, {
          conns: c,
          threads: Math.min(threads, c),
          duration,
          serverPids: s.pids,
        })),
      });
    }
    for (const s of servers) results.image.push(combine(runs.filter((r) => r.server === s.name)));
  }

  await probeAuth();
  await sleep(1000); // the front's log of the probes reaches the service within a poll or two
  authorised.met = authorised.allowed.every((s) => s === 200) && authorised.refused.every((s) => s === 403);

  // What the boot server saw (every fetch is a node event; two refusals: the 127.0.0.2 probes).
  const stats = await new Promise((resolve) => {
    civo.once('message', (m) => resolve(m.stats));
    civo.send('stats');
  });
  const exited = new Promise((r) => civo.once('exit', r));
  civo.send('stop');
  await exited;
  if (nginx) {
    if (nginx.exitCode === null && nginx.signalCode === null) {
      const gone = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGQUIT');
      await gone;
    }
  }
  const nginxErrors =
    nginx && existsSync(join(dir, 'nginx-error.log'))
      ? readFileSync(join(dir, 'nginx-error.log'), 'utf8')
      : '';

  let hotspots;
  if (profile) {
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files[0]) hotspots = profileSummary(join(profDir, files[0]));
  }

  // ---- report ----
  const table = (title, header, rows) => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
    const line = (cells) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
    console.log(`\n${title}`);
    console.log(line(header));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const row of rows) console.log(line(row));
  };
  const errCount = (r) => Object.values(r.errors).reduce((a, b) => a + b, 0);
  const scriptRows = (rs) =>
    rs.map((r) => [
      r.server,
      r.conns,
      round(r.rps, 0),
      round(r.latencyMs.p50, 2),
      round(r.latencyMs.p90, 2),
      round(r.latencyMs.p99, 2),
      round(r.latencyMs.max, 1),
      errCount(r),
      round(r.serverCpuPct, 0),
      round(r.machineBusyPct, 0),
      round(r.drainS, 1),
      r.listenOverflows,
    ]);
  const sh = [
    'server',
    'conns',
    'req/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'errors',
    'srv CPU%',
    'busy%',
    'drain s',
    'listen drops',
  ];
  if (results.scripts.length)
    table(
      `iPXE script ${scriptPath}, ${scriptConns} connections back to back, ${duration} s`,
      sh,
      scriptRows(results.scripts),
    );
  if (results.scriptsPaced.length)
    table(
      `iPXE script, ${scriptConns} connections each pausing ${paceMs / 2}-${(paceMs * 3) / 2} ms between requests`,
      sh,
      scriptRows(results.scriptsPaced),
    );
  const ratios = imageConns.map((c) => {
    const a = results.image.find((r) => r.server === 'civostack' && r.conns === c);
    const b = results.image.find((r) => r.server === 'nginx' && r.conns === c);
    return {
      conns: c,
      civostackMBps: a.MBps,
      nginxMBps: b?.MBps,
      ratio: b ? a.MBps / b.MBps : undefined,
      a,
      b,
    };
  });
  table(
    `image ${imageUrlPath} (${IMAGE_BYTES / 2 ** 20} MiB), ${duration} s per run; MB/s = 10^6 bytes/s`,
    [
      'conns',
      'civostack MB/s',
      'nginx MB/s',
      'ratio',
      'civo CPU%',
      'nginx CPU%',
      'civo CPU s/GB',
      'nginx CPU s/GB',
      'civo errors',
      'nginx errors',
    ],
    ratios.map((x) => [
      x.conns,
      round(x.civostackMBps, 0),
      round(x.nginxMBps, 0) ?? '-',
      round(x.ratio, 2) ?? '-',
      round(x.a.serverCpuPct, 0),
      round(x.b?.serverCpuPct, 0) ?? '-',
      round(x.a.serverCpuSPerGB, 2),
      round(x.b?.serverCpuSPerGB, 2) ?? '-',
      errCount(x.a),
      x.b ? errCount(x.b) : '-',
    ]),
  );

  const civoScript1k = results.scripts.find((r) => r.server === 'civostack');
  const ngScript1k = results.scripts.find((r) => r.server === 'nginx');
  const minRatio = Math.min(...ratios.map((x) => x.ratio ?? Infinity));
  const cpuRatios = ratios
    .filter((x) => x.b?.serverCpuSPerGB)
    .map((x) => x.a.serverCpuSPerGB / x.b.serverCpuSPerGB);
  const worstCpu = cpuRatios.length ? Math.max(...cpuRatios) : undefined;
  const p99Ratio = (a, b) => (a && b ? a.latencyMs.p99 / b.latencyMs.p99 : undefined);
  const targets = {
    imageRatio: { min: TARGET_RATIO, worst: Number.isFinite(minRatio) ? minRatio : undefined },
    imageCpuPerGB: { max: TARGET_CPU_RATIO, worst: worstCpu },
    scriptP99: {
      maxRatio: TARGET_P99_RATIO,
      p99Ms: civoScript1k?.latencyMs.p99,
      nginxP99Ms: ngScript1k?.latencyMs.p99,
      ratio: p99Ratio(civoScript1k, ngScript1k),
      listenOverflows: civoScript1k?.listenOverflows,
      errors: civoScript1k ? errCount(civoScript1k) : undefined,
    },
    authorised,
  };
  targets.imageRatio.met =
    targets.imageRatio.worst === undefined ? undefined : targets.imageRatio.worst >= TARGET_RATIO;
  targets.imageCpuPerGB.met = worstCpu === undefined ? undefined : worstCpu <= TARGET_CPU_RATIO;
  targets.scriptP99.met =
    targets.scriptP99.ratio === undefined
      ? undefined
      : targets.scriptP99.ratio <= TARGET_P99_RATIO &&
        targets.scriptP99.listenOverflows === 0 &&
        targets.scriptP99.errors === 0;
  const pacedCivo = results.scriptsPaced.find((r) => r.server === 'civostack');
  const pacedNg = results.scriptsPaced.find((r) => r.server === 'nginx');
  if (pacedCivo) {
    targets.scriptP99Paced = {
      p99Ms: pacedCivo.latencyMs.p99,
      nginxP99Ms: pacedNg?.latencyMs.p99,
      ratio: p99Ratio(pacedCivo, pacedNg),
    };
  }
  const loadAfter = os.loadavg();
  const verdict = (met) => (met === undefined ? 'no nginx' : met ? 'met' : 'NOT met');
  console.log(
    `\ntarget image >= ${TARGET_RATIO}x nginx's throughput: worst ratio ${round(targets.imageRatio.worst, 2) ?? '-'}: ` +
      verdict(targets.imageRatio.met),
  );
  console.log(
    `target image CPU per GB <= ${TARGET_CPU_RATIO}x nginx's: worst ${round(worstCpu, 2) ?? '-'}x: ` +
      verdict(targets.imageCpuPerGB.met),
  );
  if (civoScript1k)
    console.log(
      `target script p99 <= ${TARGET_P99_RATIO}x nginx's at ${scriptConns} connections back to back: ` +
        `${round(targets.scriptP99.p99Ms, 2)} ms against ${round(targets.scriptP99.nginxP99Ms, 2) ?? '-'} ms ` +
        `(${round(targets.scriptP99.ratio, 2) ?? '-'}x), listen drops ${targets.scriptP99.listenOverflows}, ` +
        `errors ${targets.scriptP99.errors}: ${verdict(targets.scriptP99.met)}` +
        (targets.scriptP99Paced
          ? `; paced: ${round(pacedCivo.latencyMs.p99, 2)} ms against ${round(pacedNg?.latencyMs.p99, 2) ?? '-'} ms`
          : ''),
    );
  console.log(
    `per-MAC authorisation: 127.0.0.1 ${authorised.allowed.join('/')}, 127.0.0.2 ${authorised.refused.join('/')} ` +
      `(before/after the load): ${authorised.met ? 'met' : 'NOT met'}`,
  );
  console.log(
    `load average ${loadBefore.map((x) => round(x, 2)).join(' ')} before, ${loadAfter
      .map((x) => round(x, 2))
      .join(' ')} after; ${os.cpus().length} CPUs; wrk -t${threads}`,
  );
  // wrk closes its connections mid-download when an image run ends: "Premature close", expected;
  // so are the refusals of the 127.0.0.2 probes.
  const refused = Object.entries(stats.events).filter(
    ([k]) => k.startsWith('refused') && !k.includes('Premature close') && !k.endsWith('not 127.0.0.2'),
  );
  console.log(
    `boot server events: ${Object.entries(stats.events)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}` + (refused.length ? ' (REFUSALS!)' : ''),
  );
  if (nginxErrors.trim())
    console.log(`nginx error log:\n${nginxErrors.trim().split('\n').slice(0, 5).join('\n')}`);
  if (hotspots) {
    console.log('\nboot server CPU profile, self time (--profile):');
    for (const h of hotspots) console.log(`  ${round(h.pct, 1).toFixed(1).padStart(5)}%  ${h.fn}`);
  }

  const json = {
    ...machineInfo(),
    loadavg: { before: loadBefore, after: loadAfter },
    nginx: withNginx
      ? spawnSync(has('nginx') ? 'nginx' : '/usr/sbin/nginx', ['-v'], { encoding: 'utf8' }).stderr.trim()
      : undefined,
    nginxWorkers,
    wrkThreads: threads,
    durationS: duration,
    imageBytes: IMAGE_BYTES,
    scriptPath,
    profile,
    targets,
    results: {
      scripts: results.scripts.map(({ text: _text, ...r }) => r),
      scriptsPaced: results.scriptsPaced,
      image: results.image,
      imageRatios: ratios.map(({ a: _a, b: _b, ...x }) => x),
    },
    bootServerEvents: stats.events,
    nodeState: stats.nodes['r01-n02'],
    hotspots,
    elapsedMs: performance.now() - t0,
  };
  const path = join(OUT, 'boot-results.json');
  writeFileSync(path, JSON.stringify(json, null, 2) + '\n');
  console.log(`results: ${path} (${round(json.elapsedMs / 1000, 0)} s)`);
}

if (process.argv.includes('--child')) {
  await child(arg('--child'));
} else {
  try {
    await parent();
  } catch (err) {
    process.stderr.write(`boot bench failed: ${err.stack ?? err}\n`);
    process.exitCode = 1;
    killAll(); // the children (and the IPC channel) would otherwise keep this process alive
  }
}
