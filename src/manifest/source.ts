// A parsed YAML document that still knows where every value came from.
// js-yaml reports positions only for syntax errors; the `yaml` package keeps a range on every node,
// which is what lets a semantic error point at the exact line of a valid but wrong value.
import { isCollection, isNode, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Node } from 'yaml';
import type { Path, Position } from './diagnostics.js';

export interface SourceDoc {
  readonly file: string;
  readonly data: unknown;
  /** Where the value at `path` (or its nearest present ancestor) starts. */
  locate(path: Path): Position;
  /** Where the key of the value at `path` starts (for "unknown field" and "missing field"). */
  locateKey(path: Path): Position;
}

export type ParseResult =
  { ok: true; doc: SourceDoc } | { ok: false; error: { message: string; position: Position } };

export function parseYaml(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const first = document.errors[0];
  if (first) {
    const message = first.message.split('\n')[0] ?? first.message;
    return { ok: false, error: { message: `YAML syntax error: ${message}`, position: at(first.pos[0]) } };
  }
  if (document.contents === null || text.trim() === '') {
    return { ok: false, error: { message: 'the manifest is empty', position: { file, line: 1, column: 1 } } };
  }

  const walk = (path: Path, wantKey: boolean): Position => {
    let node: unknown = document.contents;
    let keyNode: unknown;
    for (const part of path) {
      if (!isCollection(node)) break;
      const pair = isCollectionItem(node, part);
      if (pair === undefined) break;
      keyNode = pair.key;
      node = pair.value;
    }
    const target = wantKey && isNode(keyNode) ? keyNode : isNode(node) ? node : keyNode;
    const range = isNode(target) ? (target as Node).range : undefined;
    return at(range?.[0] ?? 0);
  };

  return {
    ok: true,
    doc: {
      file,
      data: document.toJS({ maxAliasCount: 100 }),
      locate: (path) => walk(path, false),
      locateKey: (path) => walk(path, true),
    },
  };
}

function isCollectionItem(
  collection: unknown,
  part: string | number,
): { key: unknown; value: unknown } | undefined {
  if (!isCollection(collection)) return undefined;
  if (typeof part === 'number') {
    const item = collection.items[part];
    return item === undefined ? undefined : { key: undefined, value: item };
  }
  for (const item of collection.items) {
    if (isPair(item) && (isScalar(item.key) ? item.key.value : item.key) === part) {
      return { key: item.key, value: item.value };
    }
  }
  return undefined;
}
