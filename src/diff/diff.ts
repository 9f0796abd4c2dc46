// Computing changes between a baseline tree (last applied, or pulled from devices) and a new
// render. Pure; secrets are redacted before any text leaves this module.
import { structuredPatch } from 'diff';
import type { FileTree } from '../render/index.js';

export interface FileChange {
  readonly path: string;
  readonly device: string;
  readonly change: 'added' | 'removed' | 'modified';
  readonly added: number;
  readonly removed: number;
  /** Unified diff hunks, redacted. */
  readonly hunks: readonly { readonly header: string; readonly lines: readonly string[] }[];
}

const REDACTED = '<redacted>';

/**
 * Secret values are replaced wherever they appear; known secret-bearing settings are also masked by
 * pattern, so a password rotated since the baseline (whose old value we no longer hold) never shows.
 * A preview's "(would be generated)" (src/pipeline.ts) holds no value and stays readable.
 */
export function redact(text: string, secretValues: readonly string[]): string {
  let out = text;
  for (const value of secretValues) if (value.length >= 4) out = out.split(value).join(REDACTED);
  return out
    .replace(/^(\s*neighbor\s+\S+\s+password\s+)(?!\(would be generated\))\S+/gm, `$1${REDACTED}`)
    .replace(/^(\s*(?:token|agent-token)\s*:\s*)(?!\(would be generated\))\S+/gm, `$1${REDACTED}`)
    .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED);
}

/** Which device a baseline-only path belonged to: the same rules the renderer names paths by. */
export function deviceOfPath(path: string, macOwners: ReadonlyMap<string, string>): string {
  const [top, name, rest] = path.split('/');
  if ((top === 'nodes' || top === 'switches') && name) return name;
  if (top === 'boot' && name === 'ipxe' && rest) return macOwners.get(rest.replace(/\.ipxe$/, '')) ?? 'boot';
  return top ?? path;
}

export function diffTrees(
  baseline: ReadonlyMap<string, string>,
  next: FileTree,
  secretValues: readonly string[],
  macOwners: ReadonlyMap<string, string> = new Map(),
): FileChange[] {
  const changes: FileChange[] = [];
  const paths = [...new Set([...baseline.keys(), ...next.keys()])].sort();
  for (const path of paths) {
    const before = baseline.get(path);
    const after = next.get(path);
    if (before === after?.content) continue;
    const oldText = before === undefined ? '' : redact(before, secretValues);
    const newText = after === undefined ? '' : redact(after.content, secretValues);
    const patch = structuredPatch(`a/${path}`, `b/${path}`, oldText, newText, '', '', { context: 3 });
    let added = 0;
    let removed = 0;
    const hunks = patch.hunks.map((h) => {
      for (const l of h.lines) {
        if (l.startsWith('+')) added++;
        else if (l.startsWith('-')) removed++;
      }
      return { header: `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, lines: h.lines };
    });
    changes.push({
      path,
      device: after?.device ?? deviceOfPath(path, macOwners),
      change: before === undefined ? 'added' : after === undefined ? 'removed' : 'modified',
      added,
      removed,
      // A change hidden entirely by redaction (a rotated secret) still shows as a change.
      hunks: hunks.length > 0 ? hunks : [{ header: '@@ secret changed @@', lines: [`~${REDACTED}`] }],
    });
  }
  return changes;
}
