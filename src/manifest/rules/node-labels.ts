// Node labels and taints: what kubelet takes on its command line, or refuses to start with.
import type { Path } from '../diagnostics.js';
import {
  CIVOSTACK_LABELS,
  kubeletRefusedNamespace,
  labelKeyProblem,
  labelValueProblem,
  parseTaint,
  TAINT_EFFECTS,
  type Taint,
} from '../node-labels.js';
import { reportDuplicates, type Rule, type RuleContext } from './context.js';

const NAME_RULE = 'at most 63 letters, digits, "-", "_" and ".", with a letter or digit at each end';

export const nodeLabels: Rule = (ctx) => {
  ctx.manifest.racks.forEach((rack, r) =>
    rack.nodes.forEach((node, n) => {
      for (const [key, value] of Object.entries(node.labels ?? {}))
        checkLabel(ctx, ['racks', r, 'nodes', n, 'labels', key], key, value);
    }),
  );
};

function checkLabel(ctx: RuleContext, path: Path, key: string, value: string): void {
  const keyProblem = labelKeyProblem(key);
  if (keyProblem !== undefined) {
    ctx.error(
      path,
      'invalid-label-key',
      `label key "${key}" ${keyProblem}`,
      `a label key is an optional DNS-name prefix and "/", then a name of ${NAME_RULE}, e.g. example.com/storage-pool`,
    );
    return;
  }
  const setBy = CIVOSTACK_LABELS[key];
  const refused = kubeletRefusedNamespace(key);
  if (setBy !== undefined) {
    ctx.error(
      path,
      'civostack-label',
      `label "${key}" is one civostack sets on every node, from ${setBy}`,
      'remove it here, or give your own label a prefix of your own, e.g. example.com/zone',
    );
  } else if (refused !== undefined) {
    ctx.error(
      path,
      'kubelet-refused-label',
      `label "${key}" is in the ${refused} namespace, which kubelet refuses to set on its own node (it would not start)`,
      key.startsWith('node-role.kubernetes.io/')
        ? "civostack's operator sets node-role.kubernetes.io/<role> from the node's role; for a role of your own use a prefix of your own, e.g. example.com/role"
        : 'use a prefix of your own (e.g. example.com/), or node.kubernetes.io/ or kubelet.kubernetes.io/, which kubelet may set',
    );
  }
  const valueProblem = labelValueProblem(value);
  if (valueProblem !== undefined)
    ctx.error(
      path,
      'invalid-label-value',
      `value "${value}" of label ${key} ${valueProblem}`,
      `a label value is empty or ${NAME_RULE}, e.g. fast`,
    );
}

interface PlacedTaint {
  readonly taint: Taint;
  readonly path: Path;
}

export const nodeTaints: Rule = (ctx) => {
  ctx.manifest.racks.forEach((rack, r) =>
    rack.nodes.forEach((node, n) => {
      const placed: PlacedTaint[] = [];
      (node.taints ?? []).forEach((text, t) => {
        const path: Path = ['racks', r, 'nodes', n, 'taints', t];
        const parsed = parseTaint(text);
        if (parsed.ok) placed.push({ taint: parsed.taint, path });
        else
          ctx.error(
            path,
            'invalid-taint',
            `taint "${text}" ${parsed.reason}`,
            `write a taint as key[=value]:Effect, the key and value as for labels, the effect one of ${TAINT_EFFECTS.join(', ')}, e.g. example.com/dedicated=storage:NoSchedule`,
          );
      });
      // The API server keeps one taint per key and effect; kubelet would not register the node.
      reportDuplicates(
        ctx,
        placed,
        (p) => `${p.taint.key}:${p.taint.effect}`,
        (p) => p.path,
        (p, _first, where) => `taint ${p.taint.key}:${p.taint.effect} is already given at ${where}`,
        'a node carries one taint per key and effect: keep the one with the value you mean',
        'duplicate-taint',
      );
    }),
  );
};
