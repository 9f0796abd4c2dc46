// Diagnostics: every problem found in a manifest, with its place and a hint, reported as data.

export type Path = readonly (string | number)[];

export interface Position {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly path: Path;
  readonly position: Position;
  readonly hint?: string;
}

/** "racks[0].nodes[2].nics[0].mac"; a key that is no identifier is quoted: labels["example.com/pool"]. */
export function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += `[${JSON.stringify(part)}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out || '(root)';
}

export function formatPosition(p: Position): string {
  return `${p.file}:${p.line}:${p.column}`;
}

/** compiler-style: "file:line:col: error: message (path)\n  hint: ..." */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.path.length > 0 ? ` [${formatPath(d.path)}]` : '';
  const head = `${formatPosition(d.position)}: ${d.severity}: ${d.message}${where}`;
  return d.hint ? `${head}\n  hint: ${d.hint}` : head;
}

export function byPosition(a: Diagnostic, b: Diagnostic): number {
  return (
    a.position.file.localeCompare(b.position.file) ||
    a.position.line - b.position.line ||
    a.position.column - b.position.column ||
    a.message.localeCompare(b.message)
  );
}
