// A parsed YAML document that can say where every value came from.
// Two parsers, each for what it does best: js-yaml reads the data (several times faster on a
// 10,000-node manifest), and the `yaml` package, which keeps a source range on every node, is run
// only when a diagnostic needs a line and column: a valid manifest never pays for positions.
import { CORE_SCHEMA, load } from 'js-yaml';
import { isCollection, isNode, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
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

interface Positioned {
  readonly document: Document;
  readonly at: (offset: number) => Position;
}

function positioned(text: string, file: string): Positioned {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  return {
    document,
    at: (offset) => {
      const { line, col } = lineCounter.linePos(offset);
      return { file, line, column: col };
    },
  };
}

export function parseYaml(text: string, file: string): ParseResult {
  if (text.trim() === '') {
    return { ok: false, error: { message: 'the manifest is empty', position: { file, line: 1, column: 1 } } };
  }
  let data: unknown;
  try {
    data = load(text, { schema: CORE_SCHEMA, filename: file });
  } catch {
    // The `yaml` parser words syntax errors better and places them exactly: let it report.
    const p = positioned(text, file);
    const first = p.document.errors[0];
    const message = first ? (first.message.split('\n')[0] ?? first.message) : 'unreadable YAML';
    return {
      ok: false,
      error: { message: `YAML syntax error: ${message}`, position: p.at(first?.pos[0] ?? 0) },
    };
  }
  if (data === null || data === undefined) {
    return { ok: false, error: { message: 'the manifest is empty', position: { file, line: 1, column: 1 } } };
  }

  let cached: Positioned | undefined;
  const walk = (path: Path, wantKey: boolean): Position => {
    cached ??= positioned(text, file);
    let node: unknown = cached.document.contents;
    let keyNode: unknown;
    for (const part of path) {
      if (!isCollection(node)) break;
      const pair = collectionItem(node, part);
      if (pair === undefined) break;
      keyNode = pair.key;
      node = pair.value;
    }
    const target = wantKey && isNode(keyNode) ? keyNode : isNode(node) ? node : keyNode;
    const range = isNode(target) ? (target as Node).range : undefined;
    return cached.at(range?.[0] ?? 0);
  };

  return {
    ok: true,
    doc: { file, data, locate: (path) => walk(path, false), locateKey: (path) => walk(path, true) },
  };
}

function collectionItem(
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
