// Loading: reads the manifest and the hardware catalog from disk and checks referenced files.
// The only part of manifest/ that touches the file system; everything it calls is pure.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalogEntrySchema, type Catalog, type NodeSku, type SwitchModel } from './catalog.js';
import { byPosition, type Diagnostic } from './diagnostics.js';
import type { Region } from './region.js';
import { parseYaml } from './source.js';
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
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return oneError(
        file,
        'no-such-file',
        'no such manifest file',
        'check the path; inventories/lab.yaml is a working example',
      );
    if (code === 'EISDIR')
      return oneError(
        file,
        'is-directory',
        'this is a folder, not a manifest file',
        'name the YAML file inside it',
      );
    return oneError(file, 'unreadable', `cannot read the manifest: ${(err as Error).message}`);
  }
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
  for (const ref of validation.fileRefs) {
    const target = resolve(dir, ref.ref);
    const kind = statKind(target);
    const wanted = ref.kind === 'secret' ? 'file' : ref.kind;
    if (kind === 'file' && ref.kind === 'secret') {
      const mode = statSync(target).mode & 0o777;
      if ((mode & 0o077) !== 0)
        diagnostics.push({
          severity: 'error',
          code: 'loose-secret-file',
          message: `${ref.ref} holds credentials but other users may read it (mode ${mode.toString(8).padStart(4, '0')})`,
          path: ref.path,
          position: parsed.doc.locate(ref.path),
          hint: `chmod 600 ${display(target)}`,
        });
    }
    if (kind === undefined && ref.optional) continue;
    if (kind !== wanted) {
      diagnostics.push({
        severity: 'error',
        code: 'missing-file',
        message:
          kind === undefined
            ? `${ref.ref} does not exist (looked for ${display(target)})`
            : `${ref.ref} is a ${kind}, not a ${wanted}`,
        path: ref.path,
        position: parsed.doc.locate(ref.path),
        hint: `paths are relative to the manifest's folder (${display(dir) || '.'})`,
      });
    }
  }
  diagnostics.sort(byPosition);
  if (validation.manifest === undefined || diagnostics.some((d) => d.severity === 'error')) {
    return { ok: false, diagnostics };
  }
  return { ok: true, region: resolveRegion(file, validation.manifest, catalog), diagnostics, dir };
}

function statKind(path: string): 'file' | 'directory' | undefined {
  try {
    const s = statSync(path);
    return s.isDirectory() ? 'directory' : 'file';
  } catch {
    return undefined;
  }
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
      const parsed = parseYaml(readFileSync(path, 'utf8'), file);
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
