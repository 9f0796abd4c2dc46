// The live diff: what runs on each switch against what the render says it should run, per device,
// both sides in one canonical form so that an unchanged device shows nothing. Pure: the device
// states are read elsewhere (src/live/) and handed in.
import type { FileTree, RenderedFile } from '../render/index.js';
import { diffTrees, type FileChange } from './diff.js';
import { normaliseFrr } from './frr-config.js';

export type SwitchPlatform = 'sonic' | 'frr';

/** What one switch runs, as read from it. */
export interface LiveDevice {
  readonly device: string;
  /** SONiC (config_db.json and FRR in its bgp container) or a plain FRR router (Debian's frr). */
  readonly platform: SwitchPlatform;
  /** `vtysh -c 'show running-config'`, as the device printed it. */
  readonly running: string;
  /** `/etc/sonic/config_db.json`, SONiC only. */
  readonly configDb?: string;
}

export const frrPath = (device: string): string => `switches/${device}/frr.conf`;
export const configDbPath = (device: string): string => `switches/${device}/config_db.json`;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k]!)]),
    );
  return v;
}

function parseTables(text: string): Record<string, Json> | undefined {
  try {
    const v = JSON.parse(text) as Json;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * config_db.json with sorted keys, restricted to the tables the render writes: SONiC keeps many
 * tables of its own (FEATURE, CRM, FLEX_COUNTER_TABLE…) that civostack neither renders nor owns.
 * A file that does not parse is compared as it is.
 */
export function canonicalConfigDb(text: string, owned?: ReadonlySet<string>): string {
  const tables = parseTables(text);
  if (tables === undefined) return text;
  const kept = Object.fromEntries(Object.entries(tables).filter(([t]) => !owned || owned.has(t)));
  return `${JSON.stringify(sortKeys(kept), null, 4)}\n`;
}

/**
 * How SONiC must take a new config_db.json: `config load` merges it into CONFIG_DB and removes
 * nothing, so a change that drops a key of an owned table (a VLAN member, a BGP neighbour) needs
 * `config reload`, which rebuilds CONFIG_DB from the file and restarts SONiC's services.
 */
export function configDbApply(live: string, rendered: string): 'load' | 'reload' {
  const next = parseTables(rendered) ?? {};
  const now = parseTables(live);
  if (now === undefined) return 'reload';
  for (const [table, entries] of Object.entries(next)) {
    const have = now[table];
    if (have === null || typeof have !== 'object' || Array.isArray(have)) continue;
    const want = entries !== null && typeof entries === 'object' && !Array.isArray(entries) ? entries : {};
    if (Object.keys(have).some((k) => !(k in want))) return 'reload';
  }
  return 'load';
}

export interface LiveTrees {
  /** What the devices run, canonical, by render path. */
  readonly live: Map<string, string>;
  /** The same paths of the render, canonical. */
  readonly rendered: FileTree;
}

/** Both sides of the live diff for the devices read: frr.conf, and config_db.json for SONiC. */
export function liveTrees(tree: FileTree, devices: readonly LiveDevice[]): LiveTrees {
  const live = new Map<string, string>();
  const rendered = new Map<string, RenderedFile>();
  for (const d of devices) {
    const frr = tree.get(frrPath(d.device));
    if (frr) {
      rendered.set(frrPath(d.device), { ...frr, content: normaliseFrr(frr.content) });
      live.set(frrPath(d.device), normaliseFrr(d.running, { dropDeviceOwned: true }));
    }
    const db = tree.get(configDbPath(d.device));
    if (db && d.platform === 'sonic') {
      const owned = new Set(Object.keys(parseTables(db.content) ?? {}));
      rendered.set(configDbPath(d.device), { ...db, content: canonicalConfigDb(db.content) });
      live.set(configDbPath(d.device), canonicalConfigDb(d.configDb ?? '', owned));
    }
  }
  return { live, rendered };
}

/** Per-device changes from what runs to what is rendered, secrets redacted. */
export function liveChanges(
  tree: FileTree,
  devices: readonly LiveDevice[],
  secretValues: readonly string[],
): FileChange[] {
  const { live, rendered } = liveTrees(tree, devices);
  return diffTrees(live, rendered, secretValues);
}
