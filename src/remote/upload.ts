// Uploading over any Host's exec: one probe (mode + sha256 of what is there), then, only when it
// differs, the bytes on stdin into a temp file beside the target, checked, chmod'ed and renamed
// over it, so a reader sees the old file or the new one, never half of one. The expected sha256 is
// stdin's first line, not an argument: a node's process list shows argv, and a short secret's hash
// there could be checked against guesses.
import type { ExecOptions, ExecResult, Host, UploadOptions, UploadResult, UploadSource } from './host.js';
import { sha256, sourceBytes } from './host.js';

const PROBE = 'if [ -f "$1" ]; then stat -c %a -- "$1" && sha256sum < "$1"; fi';

const WRITE = [
  'set -eu',
  'p=$1; IFS= read -r want',
  'd=$(dirname -- "$p"); mkdir -p -- "$d"',
  't=$(mktemp "$d/.civostack-upload.XXXXXX")',
  'trap \'rm -f -- "$t"\' EXIT',
  'cat > "$t"',
  'got=$(sha256sum < "$t"); got=${got%% *}',
  '[ "$got" = "$want" ] || { echo "sha256 mismatch after transfer: got $got, sent $want" >&2; exit 3; }',
  'chmod "$2" "$t"',
  'sync -- "$t" 2>/dev/null || true',
  'mv -f -- "$t" "$p"',
  'trap - EXIT',
].join('\n');

/** What a remote probe says about the target: absent, or its mode and content hash. */
export function parseProbe(result: ExecResult): { mode: number; sha256: string } | undefined {
  const [mode, sum] = result.stdout.trim().split('\n');
  if (!mode || !sum) return undefined;
  return { mode: parseInt(mode, 8), sha256: sum.split(/\s+/)[0] ?? '' };
}

/** Flags shared by every command of one transfer. */
export function transferOptions(options: UploadOptions): ExecOptions {
  return {
    ...(options.sudo !== undefined && { sudo: options.sudo }),
    ...(options.signal && { signal: options.signal }),
    ...(options.redact && { redact: options.redact }),
  };
}

/**
 * The converging part of every transfer: when `path` already has this sha256 and mode, nothing is
 * sent ('skipped'; a mode-only difference is fixed with chmod); otherwise `send` writes it.
 */
export async function transfer(
  host: Pick<Host, 'exec' | 'name'>,
  file: { readonly path: string; readonly sha256: string; readonly bytes: number },
  options: UploadOptions,
  send: (common: ExecOptions, mode: string) => Promise<unknown>,
): Promise<UploadResult> {
  if (!file.path.startsWith('/'))
    throw new Error(`${host.name}: remote path ${JSON.stringify(file.path)} is not absolute`);
  const mode = options.mode ?? 0o644;
  const common = transferOptions(options);
  const found = parseProbe(
    await host.exec(['sh', '-c', PROBE, 'sh', file.path], { ...common, logAs: `probe ${file.path}` }),
  );
  if (found?.sha256 === file.sha256) {
    if (found.mode === mode) return { ...file, status: 'skipped' };
    await host.exec(['chmod', octal(mode), file.path], common);
  } else await send(common, octal(mode));
  return { ...file, status: 'written' };
}

export function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

export async function uploadByExec(
  host: Pick<Host, 'exec' | 'name'>,
  path: string,
  source: UploadSource,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const bytes = await sourceBytes(source);
  const sum = sha256(bytes);
  return transfer(host, { path, sha256: sum, bytes: bytes.length }, options, (common, mode) =>
    host.exec(['sh', '-c', WRITE, 'sh', path, mode], {
      ...common,
      input: [`${sum}\n`, bytes],
      logAs: `upload ${path} (${bytes.length} bytes, sha256 ${sum.slice(0, 12)}…, mode ${mode})`,
    }),
  );
}
