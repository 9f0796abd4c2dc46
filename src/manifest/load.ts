// Loading: reads the manifest and the hardware catalog from disk and checks referenced files.
// The only part of manifest/ that touches the file system (with bounded-read.ts); what it calls is pure.
import { readdirSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalogEntrySchema, type Catalog, type NodeSku, type SwitchModel } from './catalog.js';
import { KEY_FILE_CAP, MANIFEST_CAP, MIB, readBounded, SECRET_CAP } from './bounded-read.js';
import { byPosition, type Diagnostic } from './diagnostics.js';
import type { FileRef } from './rules/index.js';
import type { Region } from './region.js';
import { parseYaml, type SourceDoc } from './source.js';
import { parsePublicKeys } from './ssh-key.js';
import { resolveRegion, validateManifest } from './validate.js';

export const BUILTIN_CATALOG = fileURLToPath(new URL('../../inventories/hardware/', import.meta.url));

export type LoadResult =
  | { ok: true; region: Region; diagnostics: readonly Diagnostic[]; dir: string }
  | { ok: false; diagnostics: readonly Diagnostic[] };

/** Paths in diagnostics are shown as the user wrote them, relative to the working directory. */
function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}

function oneError(
  file: string,
  code: string,
  message: string,
  hint?: string,
  line = 1,
  column = 1,
): LoadResult {
  return {
    ok: false,
    diagnostics: [
      {
        severity: 'error',
        code,
        message,
        path: [],
        position: { file, line, column },
        ...(hint ? { hint } : {}),
      },
    ],
  };
}

export function loadRegion(manifestPath: string): LoadResult {
  const abs = resolve(manifestPath);
  const file = display(abs);
  const read = readBounded(abs, MANIFEST_CAP);
  if (!read.ok) {
    if (read.code === 'ENOENT')
      return oneError(
        file,
        'no-such-file',
        'no such manifest file',
        'check the path; inventories/lab.yaml is a working example',
      );
    if (read.code === 'EISDIR')
      return oneError(
        file,
        'is-directory',
        'this is a folder, not a manifest file',
        'name the YAML file inside it',
      );
    return oneError(file, 'unreadable', `the manifest ${read.reason}`, 'name the YAML file of the region');
  }
  const text = read.text;
  const parsed = parseYaml(text, file);
  if (!parsed.ok) {
    const { message, position } = parsed.error;
    const hint = parsed.error.message.startsWith('YAML')
      ? 'fix the YAML syntax at that place'
      : 'start from inventories/lab.yaml';
    return oneError(file, 'yaml', message, hint, position.line, position.column);
  }
  const dir = dirname(abs);
  const data = parsed.doc.data as { hardware?: unknown };
  const extra = Array.isArray(data?.hardware)
    ? data.hardware.filter((h): h is string => typeof h === 'string')
    : [];
  const catalogDirs = [BUILTIN_CATALOG, ...extra.map((h) => resolve(dir, h))];
  const { catalog, diagnostics: catalogDiagnostics } = loadCatalog(catalogDirs);

  const validation = validateManifest(parsed.doc, catalog);
  const diagnostics = [...catalogDiagnostics, ...validation.diagnostics];
  // Rack defaults are named once per node that uses them: each field is checked, and reported, once.
  const checked = new Set<string>();
  for (const ref of validation.fileRefs) {
    const key = JSON.stringify(ref.path);
    if (checked.has(key)) continue;
    checked.add(key);
    diagnostics.push(...checkFileRef(parsed.doc, dir, ref));
  }
  diagnostics.sort(byPosition);
  if (validation.manifest === undefined || diagnostics.some((d) => d.severity === 'error')) {
    return { ok: false, diagnostics };
  }
  return { ok: true, region: resolveRegion(file, validation.manifest, catalog), diagnostics, dir };
}

/** What is wrong with a file the manifest names: missing, the wrong kind, too open or too large, not keys. */
function checkFileRef(doc: SourceDoc, dir: string, ref: FileRef): Diagnostic[] {
  const target = resolve(dir, ref.ref);
  const problem = (code: string, message: string, hint: string): Diagnostic[] => [
    { severity: 'error', code, message, path: ref.path, position: doc.locate(ref.path), hint },
  ];
  const where = `paths are relative to the manifest's folder (${display(dir) || '.'})`;
  let st: Stats;
  try {
    // stat, not open: it never blocks on a FIFO, and an OS image is not read here.
    st = statSync(target);
  } catch {
    return ref.optional
      ? []
      : problem('missing-file', `${ref.ref} does not exist (looked for ${display(target)})`, where);
  }
  const wanted = ref.kind === 'directory' ? 'directory' : 'file';
  if (st.isDirectory() !== (wanted === 'directory'))
    return problem(
      'missing-file',
      `${ref.ref} is a ${st.isDirectory() ? 'directory' : 'file'}, not a ${wanted}`,
      where,
    );
  if (wanted === 'directory') return [];
  if (!st.isFile())
    return problem(
      'not-regular-file',
      `${ref.ref} is not a regular file (a FIFO, a device or a socket)`,
      'name a regular file',
    );
  if (ref.kind === 'secret') {
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0)
      return problem(
        'loose-secret-file',
        `${ref.ref} holds credentials but other users may read it (mode ${mode.toString(8).padStart(4, '0')})`,
        `chmod 600 ${display(target)}`,
      );
  }
  if (ref.kind === 'file') return [];
  const cap = ref.kind === 'secret' ? SECRET_CAP : KEY_FILE_CAP;
  const read = readBounded(target, cap);
  if (!read.ok)
    return problem(
      read.code === 'too-large' ? 'file-too-large' : 'unreadable-file',
      `${ref.ref} ${read.reason}`,
      ref.kind === 'secret'
        ? 'a credentials or password file holds a few lines'
        : 'name a file of OpenSSH public keys',
    );
  if (ref.kind === 'secret') return [];
  const keys = parsePublicKeys(read.text);
  if (keys.ok) return [];
  if (keys.privateKey)
    return problem(
      'private-key-file',
      `${ref.ref} is an OpenSSH private key; give its .pub`,
      'never hand a private key to the nodes: name the .pub file beside it (ssh-keygen -y -f <key> prints it)',
    );
  return problem(
    'invalid-key-file',
    `${ref.ref} line ${keys.line} ${keys.reason}`,
    'give a file of OpenSSH public keys, one per line, such as an id_ed25519.pub',
  );
}

/** Reads every *.yaml in the catalog folders; a later folder's entry of the same name wins. */
export function loadCatalog(dirs: readonly string[]): { catalog: Catalog; diagnostics: Diagnostic[] } {
  const switches = new Map<string, SwitchModel>();
  const skus = new Map<string, NodeSku>();
  const diagnostics: Diagnostic[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir)
        .filter((n) => /\.ya?ml$/.test(n))
        .sort();
    } catch {
      continue; // a missing extra folder is reported against the manifest's `hardware` field
    }
    for (const name of names) {
      const path = join(dir, name);
      const file = display(path);
      const read = readBounded(path, MIB);
      if (!read.ok) {
        diagnostics.push({
          severity: 'error',
          code: 'catalog-unreadable',
          message: `catalog file ${read.reason}`,
          path: [],
          position: { file, line: 1, column: 1 },
        });
        continue;
      }
      const parsed = parseYaml(read.text, file);
      if (!parsed.ok) {
        diagnostics.push({
          severity: 'error',
          code: 'catalog-yaml',
          message: parsed.error.message,
          path: [],
          position: parsed.error.position,
        });
        continue;
      }
      const entry = catalogEntrySchema.safeParse(parsed.doc.data);
      if (!entry.success) {
        for (const issue of entry.error.issues) {
          const p = issue.path.filter((x): x is string | number => typeof x !== 'symbol');
          diagnostics.push({
            severity: 'error',
            code: 'catalog-schema',
            message: `catalog entry ${basename(name)}: ${issue.message}`,
            path: p,
            position: parsed.doc.locate(p),
          });
        }
        continue;
      }
      if (entry.data.kind === 'SwitchModel') switches.set(entry.data.name, entry.data);
      else skus.set(entry.data.name, entry.data);
    }
  }
  return { catalog: { switches, skus }, diagnostics };
}
