// Stable JSON: object keys sorted at every level, so the same data is always the same bytes.
// Written in one pass (the same text as JSON.stringify of a key-sorted copy, 4-space indent) without
// building the sorted copy: config_db.json of hundreds of switches is a large share of a render.

export function stableJson(value: unknown): string {
  const out: string[] = [];
  write(value, '', out);
  out.push('\n');
  return out.join('');
}

/** Array-index keys first, in numeric order (where a JS object puts them), then the rest by code unit. */
const INDEX = /^(?:0|[1-9][0-9]{0,8})$/;
function byKey(a: string, b: string): number {
  const ai = INDEX.test(a);
  const bi = INDEX.test(b);
  if (ai && bi) return Number(a) - Number(b);
  if (ai !== bi) return ai ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function write(value: unknown, pad: string, out: string[]): void {
  if (value === null || typeof value !== 'object') {
    out.push(JSON.stringify(value) ?? 'null');
    return;
  }
  const inner = `${pad}    `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[\n');
    value.forEach((item: unknown, i) => {
      out.push(inner);
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') out.push('null');
      else write(item, inner, out);
      out.push(i < value.length - 1 ? ',\n' : '\n');
    });
    out.push(`${pad}]`);
    return;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => {
      const v = record[k];
      return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
    })
    .sort(byKey);
  if (keys.length === 0) {
    out.push('{}');
    return;
  }
  out.push('{\n');
  keys.forEach((k, i) => {
    out.push(`${inner}${JSON.stringify(k)}: `);
    write(record[k], inner, out);
    out.push(i < keys.length - 1 ? ',\n' : '\n');
  });
  out.push(`${pad}}`);
}
