// Supervises Debian's nginx as the boot server's front: it holds the boot port, sends the large
// static artifacts (OS image, installer kernel and initrd) with sendfile, answers the per-MAC iPXE
// scripts from files the boot service publishes (each one only to its node's reserved address), logs
// those answers for the service to record, and passes everything else to the Node server.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { sleep, spawnSupervised, stopLeftover } from './supervise.js';

export const NGINX = '/usr/sbin/nginx';

export interface NginxSite {
  readonly listen: { readonly host: string; readonly port: number };
  /** Where nginx keeps its pid, logs and temp folders (the boot runtime folder). */
  readonly runtimeDir: string;
  /** The published folder: ipxe/, images/, installer/, readable by `user`. */
  readonly root: string;
  /** The Node server nginx passes every other request to. */
  readonly upstream: { readonly host: string; readonly port: number };
  /** Workers' user (they only read the published folder); unset when not started as root. */
  readonly user?: string;
  /** Sent to the Node server with every request: proves the X-Real-IP header is nginx's. */
  readonly frontToken: string;
  /** Scripts also to 127.0.0.1 (bench:boot's local load only). */
  readonly trustLoopback: boolean;
  /** Per-MAC scripts (`ipxe/<mac>.ipxe`) and the address each is reserved for; none: any address. */
  readonly scripts: readonly { readonly file: string; readonly address: string | undefined }[];
}

export function nginxPaths(runtimeDir: string): {
  conf: string;
  pid: string;
  errorLog: string;
  ipxeLog: string;
  temp: string;
} {
  const dir = join(runtimeDir, 'nginx');
  return {
    conf: join(dir, 'nginx.conf'),
    pid: join(dir, 'nginx.pid'),
    errorLog: join(dir, 'error.log'),
    ipxeLog: join(dir, 'ipxe.log'),
    temp: join(dir, 'temp'),
  };
}

/** Listen backlog: a rack powering on opens hundreds of connections in the same second. */
const BACKLOG = 4096;

export function nginxConf(site: NginxSite): string {
  const p = nginxPaths(site.runtimeDir);
  const up = `${site.upstream.host}:${site.upstream.port}`;
  const perMac = site.scripts
    .map((s) =>
      s.address === undefined
        ? `    location = /${s.file} { }`
        : `    location = /${s.file} { allow ${s.address};${site.trustLoopback ? ' allow 127.0.0.1;' : ''} deny all; }`,
    )
    .join('\n');
  return `# civostack boot server front, rendered by pxe serve; do not edit.
${site.user ? `user ${site.user};\n` : ''}worker_processes auto;
daemon off;
pid ${p.pid};
error_log ${p.errorLog} warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  server_tokens off;
  keepalive_requests 100000;
  default_type application/octet-stream;
  types { text/plain ipxe; }
  charset_types text/plain;
  client_max_body_size 64k;
  client_body_buffer_size 64k;
  client_body_temp_path ${p.temp}/body;
  proxy_temp_path ${p.temp}/proxy;
  fastcgi_temp_path ${p.temp}/fastcgi;
  uwsgi_temp_path ${p.temp}/uwsgi;
  scgi_temp_path ${p.temp}/scgi;
  log_format civostack_ipxe '$remote_addr $status $uri';
  upstream civostack { server ${up}; keepalive 64; }
  server {
    listen ${site.listen.host}:${site.listen.port} backlog=${BACKLOG};
    root ${site.root};
    # Public boot artifacts, the same for every node: straight from the page cache.
    location ^~ /images/ { }
    location ^~ /installer/ { }
    location = /ipxe/boot.ipxe { charset utf-8; add_header Cache-Control no-store always; }
    # One node's script, to its reserved address only; every answer is logged for pxe serve.
    location ^~ /ipxe/ {
      charset utf-8;
      add_header Cache-Control no-store always;
      access_log ${p.ipxeLog} civostack_ipxe buffer=32k flush=200ms;
${perMac.replaceAll(/^ {4}/gm, '      ')}
      location ~ "^/ipxe/(?<mac>[0-9a-f]{2}(-[0-9a-f]{2}){5})\\.ipxe$" {
        return 404 "#!ipxe\\necho civostack: MAC $mac is not in the manifest; run civostack pxe unknown\\n";
      }
      return 404;
    }
    # Everything per node that is not a file (seeds, install.env, progress, host keys, ZTP, API).
    location / {
      proxy_pass http://civostack;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Civostack-Front ${site.frontToken};
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
}

export interface Nginx {
  readonly pid: number;
  /** Reopens the log files (after the iPXE log was moved aside). */
  reopenLogs(): void;
  stop(): Promise<void>;
  /** Resolves when nginx exits by itself (a crash), with its exit code. */
  readonly exited: Promise<number>;
}

/** Starts nginx with `site` (its config written into the runtime folder) and waits until it listens. */
export async function startNginx(conf: string, site: NginxSite, binary = NGINX): Promise<Nginx> {
  const p = nginxPaths(site.runtimeDir);
  // nginx rewrites its title: "nginx: master process /usr/sbin/nginx -c <conf> …".
  await stopLeftover(p.pid, conf);
  rmSync(p.pid, { force: true });
  if (!existsSync(binary)) {
    throw new UserError(
      `${binary} is not installed (pxe serve sends boot images with it)`,
      "install Debian's nginx package (bash .ci/setup does): apt-get install nginx",
    );
  }
  const { child, exited, stop } = spawnSupervised(binary, [
    '-c',
    conf,
    '-p',
    site.runtimeDir,
    '-e',
    p.errorLog,
  ]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let stopping = false;
  const failed = (code: number) => {
    const why = stderr.trim().split('\n').slice(-2).join(' | ') || 'no output';
    const where = `${site.listen.host}:${site.listen.port}`;
    if (/Address already in use/.test(stderr))
      return new UserError(
        `cannot listen on ${where}: EADDRINUSE (nginx: ${why})`,
        'another boot server (or web server) is running on this port: stop it first, or pass --port',
      );
    if (/Cannot assign requested address/.test(stderr))
      return new UserError(
        `cannot listen on ${where}: EADDRNOTAVAIL (nginx: ${why})`,
        `no interface on this host has ${site.listen.host}`,
      );
    return new UserError(
      `nginx exited with code ${code}: ${why}`,
      `nginx's own words are above; its configuration is ${conf}`,
    );
  };
  for (const deadline = Date.now() + 10_000; ;) {
    const settled = await Promise.race([exited.then((code) => ({ code })), sleep(100).then(() => undefined)]);
    if (settled !== undefined) throw failed(settled.code);
    // nginx writes its pid file once it holds its ports (a taken port makes it exit instead).
    if (readPid(p.pid) === child.pid) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new UserError(`nginx did not listen on ${site.listen.host}:${site.listen.port} within 10 s`);
    }
  }
  return {
    pid: child.pid!,
    exited: exited.then((code) => (stopping ? 0 : code)),
    reopenLogs() {
      child.kill('SIGUSR1');
    },
    async stop() {
      stopping = true;
      // SIGTERM: nginx's fast shutdown (workers close their connections at once).
      await stop();
    },
  };
}

function readPid(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}
