// One secret per install: minted when a node that is not installed is given its installer script,
// carried on the installer's kernel command line, and presented by the installer (header
// X-Civostack-Token) for its install.env, seed, progress and host keys. Knowing a MAC (it is on the
// wire and in the manifest) is no longer enough to read a node's seed or speak for it. The token is
// void once the node reports installed, and replaced when an install fails (the next PXE boot gets
// the new one). Kept 0600 in the state folder so a restarted boot server honours the installs under way.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic, type StateDir } from '../state/index.js';

/** The request header the installer presents its token in. */
export const TOKEN_HEADER = 'x-civostack-token';

interface Install {
  readonly token: string;
  /** Host keys were taken under this token: the install's keys are pinned, no second set. */
  readonly keysTaken: boolean;
}

interface TokensFile {
  version: 1;
  installs: Record<string, Install>;
}

export function installTokensFile(state: StateDir): string {
  return join(state.path, 'boot', 'install-tokens.json');
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class InstallTokens {
  private data: TokensFile;

  constructor(
    private readonly file: string,
    private readonly mint: () => string = () => randomBytes(16).toString('hex'),
  ) {
    this.data = read(file);
  }

  /** The node's token for the install it is on, minted if it has none. */
  forInstall(node: string): string {
    const current = this.data.installs[node];
    if (current) return current.token;
    return this.replace(node);
  }

  /** Does `presented` match the node's current token? False when it has none. Constant-time. */
  matches(node: string, presented: string | undefined): boolean {
    const current = this.data.installs[node];
    if (!current || presented === undefined) return false;
    return timingSafeEqual(digest(current.token), digest(presented));
  }

  keysTaken(node: string): boolean {
    return this.data.installs[node]?.keysTaken === true;
  }

  /** Pins this install's host keys: the next set under the same token is refused. */
  takeKeys(node: string): void {
    const current = this.data.installs[node];
    if (!current) return;
    this.data.installs[node] = { ...current, keysTaken: true };
    this.save();
  }

  /** A new token for the node's next install (the last one failed); the old one is void. */
  replace(node: string): string {
    const token = this.mint();
    this.data.installs[node] = { token, keysTaken: false };
    this.save();
    return token;
  }

  /** The install is over (installed): nothing more is taken from it. */
  revoke(node: string): void {
    if (!(node in this.data.installs)) return;
    delete this.data.installs[node];
    this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`, 0o600);
  }
}

function read(file: string): TokensFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, installs: {} };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<TokensFile>;
    if (parsed.version !== 1 || typeof parsed.installs !== 'object' || parsed.installs === null)
      throw new Error('unknown version');
    return { version: 1, installs: parsed.installs };
  } catch (err) {
    throw new UserError(
      `${file} is damaged (${(err as Error).message})`,
      'remove it: nodes being installed get new tokens when they PXE boot again',
    );
  }
}
