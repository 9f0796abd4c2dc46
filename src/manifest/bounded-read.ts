// Reading a file the user named, without trusting what it is: a FIFO would block the read forever,
// a device (/dev/zero) would never end, and a huge file would fill the memory. The file is opened
// non-blocking, checked to be a regular file of at most `cap` bytes on the open descriptor (so a
// swap between check and read changes nothing), and read to at most that size.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export const MIB = 1024 * 1024;
/** A manifest of 10,000 nodes is about 3 MiB. */
export const MANIFEST_CAP = 16 * MIB;
/** Credentials, passwords: a few lines. */
export const SECRET_CAP = 64 * 1024;
/** Public key files: a few hundred keys. */
export const KEY_FILE_CAP = MIB;

export type BoundedRead =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly code: string; readonly reason: string };

export function readBounded(path: string, cap: number): BoundedRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, code, reason: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})` };
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { ok: false, code: 'EISDIR', reason: 'is a folder, not a file' };
    if (!st.isFile())
      return { ok: false, code: 'not-regular', reason: `is ${kindOf(st)}, not a regular file` };
    if (st.size > cap)
      return {
        ok: false,
        code: 'too-large',
        reason: `is ${formatSize(st.size)}, more than the ${formatSize(cap)} it may be`,
      };
    // Read until the end, never past the cap: a file that grew since fstat is refused, not cut short.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, cap + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > cap)
        return { ok: false, code: 'too-large', reason: `is more than the ${formatSize(cap)} it may be` };
    }
    return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, code, reason: `cannot be read (${code})` };
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function formatSize(bytes: number): string {
  if (bytes >= MIB) return `${Math.round((bytes / MIB) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}
