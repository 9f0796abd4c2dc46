// How commands print: data as JSON on stdout, human text on stdout, diagnostics on stderr.
import { formatDiagnostic, formatPath, type Diagnostic } from '../manifest/index.js';

export type OutputFormat = 'text' | 'json';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly color: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  get color() {
    return Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
  },
};

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

export function printDiagnostics(io: Io, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) io.err(formatDiagnostic(d));
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (errors > 0)
    io.err(
      `${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}`,
    );
}

export function diagnosticsJson(diagnostics: readonly Diagnostic[]): unknown {
  return diagnostics.map((d) => ({
    severity: d.severity,
    code: d.code,
    file: d.position.file,
    line: d.position.line,
    column: d.position.column,
    path: d.path.length ? formatPath(d.path) : '',
    message: d.message,
    ...(d.hint ? { hint: d.hint } : {}),
  }));
}
