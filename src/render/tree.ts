// A rendered region: relative path → file, in memory, sorted. Nothing here touches the disk.

export interface RenderedFile {
  readonly content: string;
  /** 0o600 for files that carry secrets, 0o644 otherwise. */
  readonly mode: number;
  /** Which device or host the file configures, for grouping diffs ("r01-tor1", "boot"). */
  readonly device: string;
  /** Names of the secrets whose values appear in this file (for redaction). */
  readonly secrets: readonly string[];
}

export type FileTree = ReadonlyMap<string, RenderedFile>;

export class TreeBuilder {
  private readonly files = new Map<string, RenderedFile>();

  add(path: string, device: string, content: string, secrets: readonly string[] = []): void {
    if (this.files.has(path)) throw new Error(`internal: ${path} rendered twice`);
    if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`internal: bad path ${path}`);
    this.files.set(path, { content, mode: secrets.length > 0 ? 0o600 : 0o644, device, secrets });
  }

  build(): FileTree {
    return new Map([...this.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
