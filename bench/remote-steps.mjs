// civostack's side of the remote bench, run as its own command so it is timed whole (Node start,
// module load, connections, every step): the built remote layer (dist/remote) fans the same steps
// out to the hosts of a job file: upload a 10 MB artifact, write a config file, run a command.
//
//   node bench/remote-steps.mjs <job.json> [steps|steps-pull|artifact-exec|artifact-sftp|artifact-http]
//
// `steps` is the bench proper (the artifact pushed over SSH, as Ansible's copy does); `steps-pull`
// the same with the artifact pulled by the nodes over HTTP (pull()). The artifact-* modes only move the 10 MB file, three ways, for the
// choice between pushing over SSH and letting the nodes pull over HTTP.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import ssh2 from 'ssh2';

const DIST = new URL('../dist/', import.meta.url);
const { SshHost, Limiter, fanOut, allOrThrow, fileHostLog, pull } = await import(
  new URL('remote/index.js', DIST).href
);

const [jobFile, mode = 'steps'] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobFile, 'utf8'));
const key = readFileSync(job.privateKey);
const limiter = new Limiter(job.concurrency);
const hosts = job.hosts.map(
  (h) =>
    new SshHost({
      name: h.name,
      address: h.address,
      username: 'root',
      privateKey: key,
      knownHostKeys: [h.hostKey],
      log: fileHostLog(job.state, h.name),
    }),
);
const step = async (name, task) => allOrThrow(name, await fanOut(hosts, task, { step: name, limiter }));

const BLOB = '/srv/civostack/images/blob.bin';
if (mode === 'steps') {
  await step('artifact', (h) => h.upload(BLOB, { file: job.blob }, { mode: 0o644 }));
  await step('config', (h) => h.upload('/srv/civostack/config.yaml', job.config, { mode: 0o640 }));
  await step('command', (h) => h.exec(['sha256sum', BLOB]));
} else if (mode === 'artifact-exec') {
  await step('artifact', (h) => h.upload(BLOB, { file: job.blob }, { mode: 0o644 }));
} else if (mode === 'steps-pull' || mode === 'artifact-http') {
  // The nodes pull from an HTTP server on the bootstrap side (the boot server's role), checking sha256.
  const size = statSync(job.blob).size;
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    createReadStream(job.blob, { highWaterMark: 1 << 20 }).pipe(res);
  });
  await new Promise((r) => server.listen(0, job.httpAddress, r));
  const source = {
    url: `http://${job.httpAddress}:${server.address().port}/blob.bin`,
    sha256: job.blobSha256,
    bytes: size,
  };
  await step('artifact', (h) => pull(h, BLOB, source, { mode: 0o644 }));
  server.close();
  if (mode === 'steps-pull') {
    await step('config', (h) => h.upload('/srv/civostack/config.yaml', job.config, { mode: 0o640 }));
    await step('command', (h) => h.exec(['sha256sum', BLOB]));
  }
} else if (mode === 'artifact-sftp') {
  // sftp on its own connection (ssh2's fastPut: parallel 32 KiB writes), then a rename.
  await step('artifact', async (h) => {
    const spec = job.hosts.find((x) => x.name === h.name);
    await h.exec(['mkdir', '-p', '/srv/civostack/images']);
    const conn = new ssh2.Client();
    await new Promise((resolve, reject) => {
      conn
        .on('ready', resolve)
        .on('error', reject)
        .connect({
          host: spec.address,
          username: 'root',
          privateKey: key,
          hostVerifier: (k) => k.toString('base64') === spec.hostKey.split(' ')[1],
        });
    });
    const sftp = await new Promise((resolve, reject) => conn.sftp((e, s) => (e ? reject(e) : resolve(s))));
    await new Promise((resolve, reject) =>
      sftp.fastPut(job.blob, `${BLOB}.part`, { mode: 0o644 }, (e) => (e ? reject(e) : resolve())),
    );
    conn.end();
    await h.exec(['mv', '-f', `${BLOB}.part`, BLOB]);
  });
} else throw new Error(`unknown mode ${mode}`);
await Promise.all(hosts.map((h) => h.close()));
