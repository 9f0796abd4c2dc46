// Formatting changes: unified diffs grouped per device, coloured only for a terminal.
import type { FileChange } from './diff.js';

const paint = (on: boolean, code: string, text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text);

export function formatChanges(changes: readonly FileChange[], color: boolean): string {
  if (changes.length === 0) return 'No changes: every device is as rendered.';
  const byDevice = new Map<string, FileChange[]>();
  for (const c of changes) byDevice.set(c.device, [...(byDevice.get(c.device) ?? []), c]);
  const out: string[] = [];
  for (const device of [...byDevice.keys()].sort()) {
    const list = byDevice.get(device)!;
    out.push(paint(color, '1', `=== ${device} (${list.length} file${list.length === 1 ? '' : 's'})`));
    for (const c of list) {
      out.push(paint(color, '1', `--- a/${c.path}${c.change === 'added' ? ' (new)' : ''}`));
      out.push(paint(color, '1', `+++ b/${c.path}${c.change === 'removed' ? ' (removed)' : ''}`));
      for (const h of c.hunks) {
        out.push(paint(color, '36', h.header));
        for (const line of h.lines) {
          if (line.startsWith('+')) out.push(paint(color, '32', line));
          else if (line.startsWith('-')) out.push(paint(color, '31', line));
          else out.push(line);
        }
      }
    }
    out.push('');
  }
  const files = changes.length;
  const devices = byDevice.size;
  out.push(
    `${files} file${files === 1 ? '' : 's'} on ${devices} device${devices === 1 ? '' : 's'} would change.`,
  );
  return out.join('\n');
}

export function changesJson(changes: readonly FileChange[]): unknown {
  return {
    changed: changes.length > 0,
    changes: changes.map((c) => ({
      device: c.device,
      path: c.path,
      change: c.change,
      added: c.added,
      removed: c.removed,
      patch: c.hunks.flatMap((h) => [h.header, ...h.lines]).join('\n'),
    })),
  };
}
