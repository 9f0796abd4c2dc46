// Serving files over HTTP on loopback: whole, by range across the 1 MiB read buffers, many at once,
// and a client that hangs up mid-download (the server goes on, no file stays open).
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendFile } from '../../src/boot/http-file.js';
import { tempDir } from '../helpers/manifest.js';

const MiB = 1 << 20;
// Five and a half buffers' worth: full chunks and a short last one.
const data = randomBytes(5 * MiB + 12345);
const path = join(tempDir('civostack-http-file-'), 'image.raw');
writeFileSync(path, data);

let server: Server;
let port = 0;
const errors: unknown[] = [];
let finished = 0;

function fetchBytes(headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/image', headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const openFiles = () => readdirSync('/proc/self/fd').length;

describe('sendFile', () => {
  beforeAll(async () => {
    server = createServer((req, res) => {
      sendFile(req, res, path, 'application/octet-stream')
        .catch((e: unknown) => errors.push(e))
        .finally(() => finished++);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends the whole file, byte for byte', async () => {
    const r = await fetchBytes();
    expect(r.status).toBe(200);
    expect(r.body.equals(data)).toBe(true);
  });

  it('sends ranges that start and end inside and across read buffers', async () => {
    for (const [a, b] of [
      [0, 0],
      [MiB - 1, MiB],
      [MiB - 10, 3 * MiB + 10],
      [2 * MiB, 2 * MiB + MiB - 1],
      [5 * MiB, data.length - 1],
    ] as const) {
      const r = await fetchBytes({ Range: `bytes=${a}-${b}` });
      expect(r.status, `${a}-${b}`).toBe(206);
      expect(r.body.equals(data.subarray(a, b + 1)), `${a}-${b}`).toBe(true);
    }
  });

  it('serves many downloads at once without mixing their bytes', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2 ? fetchBytes() : fetchBytes({ Range: `bytes=${i * 1000}-${i * 1000 + 2 * MiB}` }),
      ),
    );
    results.forEach((r, i) => {
      const want = i % 2 ? data : data.subarray(i * 1000, i * 1000 + 2 * MiB + 1);
      expect(r.body.equals(want), `download ${i}`).toBe(true);
    });
  });

  it('lets a client hang up mid-download: the file is closed and the next download is whole', async () => {
    // No connection is kept alive between requests (agent: false): what is open now stays open.
    await new Promise((r) => setTimeout(r, 100));
    const before = openFiles();
    const done = finished;
    await new Promise<void>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path: '/image', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
    });
    for (let i = 0; i < 250 && finished === done; i++) await new Promise((r) => setTimeout(r, 20));
    expect(finished, 'sendFile returned').toBe(done + 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(openFiles()).toBe(before);
    expect((await fetchBytes()).body.equals(data)).toBe(true);
    expect(errors).toEqual([]);
  });
});
