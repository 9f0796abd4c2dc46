// HTTP requests from a chosen loopback address (127.0.0.2 stands for a host that is not the node's).
import { request } from 'node:http';

export interface Reply {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export function httpCall(
  url: string,
  opts: { method?: string; from?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  // Split by hand: a URL object would resolve the `..` and `//` the server must see and refuse.
  const m = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(url);
  if (!m) throw new Error(`not an http://host:port/path URL: ${url}`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: m[1],
        port: Number(m[2]),
        path: m[3],
        method: opts.method ?? 'GET',
        localAddress: opts.from ?? '127.0.0.1',
        headers: opts.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
