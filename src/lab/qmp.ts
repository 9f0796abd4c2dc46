// A minimal QMP client: one connection per command, as the lab's BMC hook needs (system_reset, status).
import { createConnection } from 'node:net';

/** Runs one QMP command on the socket at `path` and resolves with its `return` value. */
export function qmpCommand(path: string, execute: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffer = '';
    let negotiated = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`QMP ${path}: no answer to ${execute} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      socket.end();
      if (err) reject(err);
      else resolve(value);
    };
    socket.on('error', (e) => done(new Error(`QMP ${path}: ${e.message}`)));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as {
          QMP?: unknown;
          return?: unknown;
          error?: { desc?: string };
          event?: string;
        };
        if (msg.QMP) socket.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
        else if (msg.event) continue;
        else if (msg.error) done(new Error(`QMP ${execute}: ${msg.error.desc ?? 'error'}`));
        else if (!negotiated) {
          negotiated = true;
          socket.write(`${JSON.stringify({ execute })}\n`);
        } else done(undefined, msg.return);
      }
    });
  });
}
