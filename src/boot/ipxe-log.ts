// nginx's log of the iPXE scripts it answered ("<address> <status> <uri>" a line), read as it
// grows, so the boot service records each fetch as it did when it answered them itself. The file is
// moved aside and reopened by nginx once it passes ROTATE_BYTES, so it never grows without bound.
import {
  closeSync,
  existsSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';

export interface IpxeFetch {
  readonly from: string;
  readonly status: number;
  /** The requested path, e.g. /ipxe/52-54-00-aa-00-02.ipxe. */
  readonly path: string;
}

/** One log line → a fetch; undefined for anything else (a torn or foreign line). */
export function parseIpxeLogLine(line: string): IpxeFetch | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+) (\d{3}) (\/\S*)$/.exec(line);
  return m ? { from: m[1]!, status: Number(m[2]), path: m[3]! } : undefined;
}

const POLL_MS = 100;
const ROTATE_BYTES = 16 * 1024 * 1024;
const CHUNK = 1 << 20;

export interface IpxeLogTail {
  /** Reads what is left, then stops. */
  close(): void;
}

/**
 * Follows `path` (emptied first; nginx appends to it) and hands every complete line to `onFetch`.
 * `reopen` asks nginx to reopen its logs after the file was moved aside.
 */
export function tailIpxeLog(path: string, reopen: () => void, onFetch: (f: IpxeFetch) => void): IpxeLogTail {
  writeFileSync(path, '', { mode: 0o600 });
  let fd = openSync(path, 'r');
  let at = 0;
  let rest = '';
  /** Moved aside and waiting for nginx to write to the new file: polls left on the old one. */
  let draining: number | undefined;
  const buffer = Buffer.allocUnsafe(CHUNK);
  const readAll = () => {
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, at);
      if (n === 0) return;
      at += n;
      const lines = (rest + buffer.toString('latin1', 0, n)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const f = parseIpxeLogLine(line);
        if (f) onFetch(f);
      }
    }
  };
  const tick = () => {
    readAll();
    if (draining === undefined && at > ROTATE_BYTES) {
      renameSync(path, `${path}.old`);
      reopen();
      draining = 3; // nginx flushes its buffer within 200 ms
    } else if (draining !== undefined && existsSync(path) && --draining <= 0) {
      readAll();
      closeSync(fd);
      rmSync(`${path}.old`, { force: true });
      fd = openSync(path, 'r');
      at = 0;
      rest = '';
      draining = undefined;
    }
  };
  const timer = setInterval(() => {
    try {
      tick();
    } catch {
      // the runtime folder went away under us (the service is stopping)
    }
  }, POLL_MS);
  return {
    close() {
      clearInterval(timer);
      try {
        readAll();
        closeSync(fd);
      } catch {
        // already gone
      }
      if (existsSync(`${path}.old`) && statSync(`${path}.old`).isFile())
        rmSync(`${path}.old`, { force: true });
    },
  };
}
