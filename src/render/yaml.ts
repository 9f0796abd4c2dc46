// Block YAML for the per-node files (cloud-init, K3s): the same bytes js-yaml's `dump` writes with
// `lineWidth: -1`, produced without its per-character scalar analysis, which was the largest share of
// rendering a 10,000-node region. Only what these files hold takes the fast path: mappings,
// sequences, integers, booleans and single-line strings whose YAML form is known for certain (plain
// words and paths, addresses, MACs). Anything else, and every scalar the fast path is not sure about,
// goes to js-yaml itself, so the output never depends on this file's idea of YAML; a test checks it
// byte for byte against js-yaml on every rendered node of the shipped and synthetic regions.
import { dump } from 'js-yaml';

const OPTIONS = { lineWidth: -1, noRefs: true, sortKeys: false } as const;

/** Words js-yaml quotes because YAML 1.1 or the core schema reads them as booleans or null. */
const RESERVED = new Set([
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'n',
  'N',
  'no',
  'No',
  'NO',
  'on',
  'On',
  'ON',
  'off',
  'Off',
  'OFF',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  'null',
  'Null',
  'NULL',
]);
/** Starts with a letter (never a number, timestamp or indicator), no space, colon, '#' or quote. */
const WORD = /^[A-Za-z][A-Za-z0-9_./@+=-]*$/;
/** An IPv4 address or prefix: not an int, float or timestamp, and every character plain-safe. */
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?$/;
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
/** All-digit MACs look like YAML 1.1 sexagesimal numbers, which js-yaml quotes. */
const BASE60 = /^[0-9:]+$/;

class Unsure extends Error {}

function scalar(s: string): string {
  if (WORD.test(s)) return RESERVED.has(s) ? `'${s}'` : s;
  if (IPV4.test(s)) return s;
  if (MAC.test(s)) return BASE60.test(s) ? `'${s}'` : s;
  // A single-line scalar's form does not depend on where it stands: js-yaml says what it is.
  if (s.length > 0 && !/[\n\r]/.test(s)) return dump(s, OPTIONS).slice(0, -1);
  throw new Unsure();
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function inline(v: unknown): string | undefined {
  if (typeof v === 'string') return scalar(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || Object.is(v, -0)) throw new Unsure();
    return String(v);
  }
  if (Array.isArray(v)) return v.length === 0 ? '[]' : undefined;
  if (isMap(v)) return Object.keys(v).length === 0 ? '{}' : undefined;
  throw new Unsure();
}

/** Printable ASCII lines, none starting with a space, ending in exactly one newline: js-yaml's `|`. */
const LITERAL = /^(?:[!-~][ -~]*\n)+$/;

function mapping(m: Record<string, unknown>, pad: string, out: string[]): void {
  for (const key of Object.keys(m)) {
    const value = m[key];
    const k = scalar(key);
    if (typeof value === 'string' && value.includes('\n')) {
      if (!LITERAL.test(value) || value.endsWith('\n\n')) throw new Unsure();
      const lines = value.slice(0, -1).split('\n');
      out.push(`${pad}${k}: |\n`, ...lines.map((l) => `${pad}  ${l}\n`));
      continue;
    }
    const one = inline(value);
    if (one !== undefined) out.push(`${pad}${k}: ${one}\n`);
    else {
      out.push(`${pad}${k}:\n`);
      block(value, `${pad}  `, out);
    }
  }
}

function sequence(a: readonly unknown[], pad: string, out: string[]): void {
  for (const item of a) {
    const one = inline(item);
    if (one !== undefined) out.push(`${pad}- ${one}\n`);
    else if (isMap(item)) {
      // The first key shares the dash's line; the others line up under it.
      const inner: string[] = [];
      mapping(item, `${pad}  `, inner);
      inner[0] = `${pad}- ${inner[0]!.slice(pad.length + 2)}`;
      out.push(...inner);
    } else throw new Unsure();
  }
}

function block(v: unknown, pad: string, out: string[]): void {
  if (Array.isArray(v)) sequence(v, pad, out);
  else if (isMap(v)) mapping(v, pad, out);
  else throw new Unsure();
}

/** `value` as block YAML, byte-identical to `dump(value, { lineWidth: -1, noRefs: true })`. */
export function toYaml(value: unknown): string {
  try {
    const one = inline(value);
    if (one !== undefined) return `${one}\n`;
    const out: string[] = [];
    block(value, '', out);
    return out.join('');
  } catch (err) {
    if (err instanceof Unsure) return dump(value, OPTIONS);
    throw err;
  }
}
