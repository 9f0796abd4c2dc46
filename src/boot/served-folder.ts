// The folders the boot service's unprivileged workers serve from (nginx's www-data, dnsmasq's TFTP
// user) live outside the 0700 state folder, at names derived from it in the shared temp folder. Any
// local user can create a name there first, or plant a symlink at it; so each folder is made anew
// by this process (mkdir never follows a link and fails on anything already there), owned by us,
// and something at its name that we did not make is refused rather than used or followed.
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { UserError } from '../errors.js';

export interface ServedFolderAccess {
  /** 0o755 for public files (TFTP's iPXE binaries); 0o750 when only `group` may read (nginx's). */
  readonly mode: number;
  /** The workers' group, given read access (root only can hand a folder to another group). */
  readonly gid?: number;
}

/** What is at `path`, for the refusal: "a symlink", "a directory owned by uid 65534 with mode 0777". */
function describe(path: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const uid = process.getuid?.() ?? st.uid;
  if (st.isSymbolicLink()) return 'a symlink';
  if (!st.isDirectory()) return `a file owned by uid ${st.uid}`;
  // Ours: a directory only our uid can write to, left by a run that was killed outright.
  if (st.uid === uid && (st.mode & 0o022) === 0) return '';
  return `a directory owned by uid ${st.uid} with mode 0${(st.mode & 0o7777).toString(8)}`;
}

/**
 * Creates `path` empty, owned by this process, with `access`. A leftover of our own (a killed run) is
 * removed first; anything else at the name (another user's folder, a symlink, a file) is a UserError.
 */
export function createServedFolder(path: string, access: ServedFolderAccess): void {
  const found = describe(path);
  if (found === '') rmSync(path, { recursive: true, force: true });
  else if (found !== undefined) throw foreign(path, found);
  try {
    // Not recursive: the parent exists (the temp folder); EEXIST means someone raced us to the name.
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw foreign(path, describe(path) || 'a folder');
    throw err;
  }
  if (access.gid !== undefined) chownSync(path, process.getuid?.() ?? 0, access.gid);
  chmodSync(path, access.mode);
}

/** A subfolder of a folder createServedFolder made: nobody else can have put anything there. */
export function createServedSubfolder(path: string, mode: number): void {
  mkdirSync(path, { mode: 0o700 });
  chmodSync(path, mode);
}

function foreign(path: string, what: string): UserError {
  return new UserError(
    `${path} already exists and civostack did not make it (${what}); the boot service will not serve from it`,
    `another local user may be trying to plant boot files or redirect a write: look at it, remove it (rm -rf ${path}), and start again`,
  );
}
