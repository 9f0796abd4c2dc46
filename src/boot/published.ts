// The folder nginx serves: boot.ipxe, one script per known MAC (the node's installer script, or
// local.ipxe once the node is installed), and the public artifacts (image, kernel, initrd). nginx's
// workers run unprivileged, so it lives outside the 0700 state folder: made anew at every start,
// owned by root and readable by the workers' group only (served-folder.ts). It holds no seeds.
import {
  chmodSync,
  copyFileSync,
  constants,
  linkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { macHyphen, type Mac } from '../manifest/index.js';
import type { NodePlan, Plan } from '../plan/index.js';
import type { FileTree } from '../render/index.js';
import type { NodeState } from './node-state.js';
import type { BootArtifacts } from './server.js';
import { createServedFolder, createServedSubfolder, type ServedFolderAccess } from './served-folder.js';

export interface PublishedScript {
  /** `ipxe/<mac>.ipxe`, relative to the published folder. */
  readonly file: string;
  readonly node: NodePlan;
}

export interface Published {
  readonly scripts: readonly PublishedScript[];
  /** Rewrites `node`'s scripts if they changed with its state since they were written. */
  refresh(node: string, state: NodeState | undefined): void;
}

/** Writes `content` to `path` by rename, so nginx never sends half a file. */
function put(path: string, content: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, path);
}

/**
 * `source` at `target` for nginx's workers: a hard link (no copy of a multi-GB image) when both are
 * on one filesystem and the file is world-readable; otherwise a copy (a reflink where supported).
 */
function stage(source: string, target: string): void {
  rmSync(target, { force: true });
  if ((statSync(source).mode & 0o004) !== 0) {
    try {
      linkSync(source, target);
      return;
    } catch {
      // another filesystem: copy
    }
  }
  copyFileSync(source, target, constants.COPYFILE_FICLONE);
  chmodSync(target, 0o644);
}

function file(tree: FileTree, path: string): string {
  const f = tree.get(path);
  if (!f) throw new Error(`internal: ${path} not rendered`);
  return f.content;
}

export function publishBootFiles(
  root: string,
  plan: Plan,
  tree: FileTree,
  artifacts: BootArtifacts,
  stateOf: (node: string) => NodeState | undefined,
  /** A MAC's script for the node in `state` (boot-core.ts's nodeScriptFor). */
  scriptOf: (node: NodePlan, mac: Mac, state: NodeState | undefined) => string | undefined,
  access: ServedFolderAccess,
): Published {
  createServedFolder(root, access);
  for (const d of ['ipxe', 'images', 'installer']) createServedSubfolder(join(root, d), 0o755);
  if (artifacts.kernel) stage(artifacts.kernel, join(root, 'installer', 'vmlinuz'));
  if (artifacts.initrd) stage(artifacts.initrd, join(root, 'installer', 'initrd.img'));
  if (artifacts.image?.path)
    stage(artifacts.image.path, join(root, 'images', basename(artifacts.image.path)));
  put(join(root, 'ipxe', 'boot.ipxe'), file(tree, 'boot/ipxe/boot.ipxe'));
  const scripts = plan.nodes.flatMap((node) =>
    node.nics.map((nic) => ({ file: `ipxe/${macHyphen(nic.mac as Mac)}.ipxe`, node })),
  );
  // What each script file holds now: rewritten only when the node's script changes (installed, or
  // a new install token after a failed install).
  const written = new Map<string, string>();
  const write = (node: NodePlan, state: NodeState | undefined) => {
    for (const nic of node.nics) {
      const name = `${macHyphen(nic.mac as Mac)}.ipxe`;
      const content = scriptOf(node, nic.mac as Mac, state);
      if (content === undefined) throw new Error(`internal: boot/ipxe/${name} not rendered`);
      if (written.get(name) === content) continue;
      put(join(root, 'ipxe', name), content);
      written.set(name, content);
    }
  };
  for (const node of plan.nodes) write(node, stateOf(node.name));
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  return {
    scripts,
    refresh(name, state) {
      const node = byName.get(name);
      if (node) write(node, state);
    },
  };
}
