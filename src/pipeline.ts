// The pipeline every command and phase goes through: `prepare` loads nothing from the CLI, plans,
// renders and works out what would be recorded (new allocations, new secrets) without writing a
// byte; `commit` writes exactly that. `region diff` and `--dry-run` stop after prepare.
import { resolve } from 'node:path';
import { UserError } from './errors.js';
import { KEY_FILE_CAP, parsePublicKeys, readBounded, type Region } from './manifest/index.js';
import { AllocationError, planRegion, type PlanResult } from './plan/index.js';
import {
  DEFAULT_BOOT_OPTIONS,
  RenderError,
  renderRegion,
  secretValues,
  type BootOptions,
  type FileTree,
  type RenderedFile,
} from './render/index.js';
import {
  readAllocations,
  readSecrets,
  SSH_KEY,
  writeAllocations,
  writeSecrets,
  type PendingSecret,
  type StateDir,
} from './state/index.js';
import { loadTemplates } from './templates.js';
import { artifactImages } from './kube/artifacts.js';
import type { KubeadmImages } from './kube/kubeadm-render.js';

export interface PrepareInput {
  readonly region: Region;
  /** Folder of the manifest: paths in it are relative to it. */
  readonly manifestDir: string;
  readonly state: StateDir;
  readonly prune?: boolean;
  readonly boot?: BootOptions;
}

export interface Prepared extends PlanResult {
  readonly region: Region;
  readonly state: StateDir;
  readonly manifestDir: string;
  readonly tree: FileTree;
  /** Secret values to redact from anything shown (existing and pending). */
  readonly secretValues: readonly string[];
  /** Secret values by name (existing and pending), for the phases that hand them to hosts. */
  readonly secrets: ReadonlyMap<string, string>;
  /** What commit would write. */
  readonly pending: {
    /** The allocation table differs from the one on disk (new or released devices). */
    readonly allocations: boolean;
    readonly newAllocations: readonly string[];
    readonly secrets: readonly PendingSecret[];
  };
  readonly looseFiles: readonly string[];
}

/** Shown instead of a secret that does not exist yet. */
export const WOULD_BE_GENERATED = '(would be generated)';

export function prepare(input: PrepareInput): Prepared {
  const prior = readAllocations(input.state);
  let planned: PlanResult;
  try {
    planned = planRegion(input.region, prior, { prune: input.prune ?? false });
  } catch (err) {
    if (err instanceof AllocationError)
      throw new UserError(
        err.message,
        'grow the network in the manifest, or release removed devices with --prune',
      );
    throw err;
  }
  const secrets = readSecrets(input.state, planned.plan, input.manifestDir);
  const keyFiles = planned.plan.os.sshAuthorizedKeyFiles.flatMap((f) => readKeyFile(input.manifestDir, f));
  const authorizedKeys = [
    ...planned.plan.os.sshAuthorizedKeys,
    ...keyFiles,
    secrets.values.get(`${SSH_KEY}.pub`)!,
  ];
  let tree: FileTree;
  try {
    tree = renderRegion({
      plan: planned.plan,
      templates: loadTemplates(),
      secrets: secretValues(secrets.values),
      authorizedKeys,
      boot: input.boot ?? DEFAULT_BOOT_OPTIONS,
      ...renderImages(input.region, input.manifestDir),
    });
  } catch (err) {
    if (err instanceof RenderError)
      throw new UserError(
        err.message,
        'this is a planning bug or a catalog error: report it with the manifest',
      );
    throw err;
  }
  const values = [...secrets.values].filter(([name]) => !name.endsWith('.pub')).map(([, v]) => v);
  return {
    ...planned,
    region: input.region,
    state: input.state,
    manifestDir: input.manifestDir,
    tree,
    secretValues: values,
    secrets: secrets.values,
    pending: {
      allocations: JSON.stringify(prior) !== JSON.stringify(planned.allocations),
      newAllocations: newKeys(prior, planned.allocations),
      secrets: secrets.pending,
    },
    looseFiles: secrets.looseFiles,
  };
}

/**
 * The images a kubeadm region's nodes get, from its airgap folder's artifacts.json; without one,
 * the artifacts civostack builds (DEFAULT_IMAGES), which the lab and `kube artifacts` make.
 */
function renderImages(region: Region, manifestDir: string): { images?: KubeadmImages } {
  const k = region.manifest.kubernetes;
  if (k.distribution !== 'kubeadm' || k.airgap === undefined) return {};
  return { images: artifactImages(resolve(manifestDir, k.airgap)) };
}

/**
 * The public keys of one sshAuthorizedKeyFiles entry, one per line, comments left out. Validation
 * checked the file; it is read again as carefully, since it may have changed since (a private key
 * written over it must still never reach a seed).
 */
function readKeyFile(manifestDir: string, ref: string): readonly string[] {
  const read = readBounded(resolve(manifestDir, ref), KEY_FILE_CAP);
  if (!read.ok) throw new UserError(`${ref} ${read.reason}`, 'name a file of OpenSSH public keys');
  const keys = parsePublicKeys(read.text);
  if (keys.ok) return keys.keys;
  throw new UserError(
    keys.privateKey
      ? `${ref} is an OpenSSH private key; give its .pub`
      : `${ref} line ${keys.line} ${keys.reason}`,
    'give a file of OpenSSH public keys, one per line, such as an id_ed25519.pub',
  );
}

/** "pool/key" of every allocation that is not recorded yet. */
function newKeys(prior: PlanResult['allocations'], next: PlanResult['allocations']): string[] {
  const out: string[] = [];
  for (const [pool, entries] of Object.entries(next))
    for (const key of Object.keys(entries)) if (prior[pool]?.[key] === undefined) out.push(`${pool}/${key}`);
  return out.sort();
}

export function hasPending(p: Prepared): boolean {
  return p.pending.allocations || p.pending.secrets.length > 0;
}

/** Writes what prepare found to record: the allocation table and the generated secrets. */
export function commit(p: Prepared): void {
  if (p.pending.allocations || p.pending.secrets.length > 0) writeAllocations(p.state, p.allocations);
  writeSecrets(p.state, p.pending.secrets);
}

/**
 * The tree as a preview shows it: values that would be generated (passwords, civostack's SSH key)
 * read "(would be generated)", so a dry run is the same on every run and never shows a value.
 */
export function previewTree(p: Prepared): FileTree {
  const generated = p.pending.secrets.map((s) => s.value.trim()).filter((v) => v.length >= 4);
  if (generated.length === 0) return p.tree;
  const out = new Map<string, RenderedFile>();
  for (const [path, f] of p.tree) {
    let content = f.content;
    for (const v of generated) content = content.split(v).join(WOULD_BE_GENERATED);
    out.set(path, { ...f, content });
  }
  return out;
}
