// Serving a file over HTTP: streamed (never loaded whole), with single-range requests (RFC 9110
// §14) so an installer or a curl can resume an image download.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** 1 MiB reads: far fewer syscalls than the 64 KiB default when streaming multi-GB images. */
const CHUNK = 1 << 20;

export type Range = { start: number; end: number } | 'unsatisfiable' | undefined;

/** Parses a Range header against a file size; multi-range requests are served whole. */
export function parseRange(header: string | undefined, size: number): Range {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  contentType: string,
): Promise<void> {
  const stat = statSync(path);
  const range = parseRange(req.headers.range, stat.size);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', contentType);
  res.setHeader('Last-Modified', stat.mtime.toUTCString());
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${stat.size}` });
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? stat.size - 1;
  const headers: Record<string, string | number> = {
    'Content-Length': stat.size === 0 ? 0 : end - start + 1,
  };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || stat.size === 0) {
    res.end();
    return;
  }
  await pipeline(createReadStream(path, { start, end, highWaterMark: CHUNK }), res);
}
