// Node labels and taints as kubelet takes them (K3s passes them on as --node-labels and
// --register-with-taints): label keys and values in Kubernetes' syntax, taints as key[=value]:Effect.
// kubelet refuses to start with a label in the kubernetes.io or k8s.io namespace it may not set on its
// own node (k8s.io/kubernetes pkg/kubelet/apis/well_known_labels.go), so such a label is refused here.
import { dnsNameProblem } from './dns-name.js';

/** A label name, and a label value when not empty: Kubernetes' "qualified name" part. */
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const NAME_RULE = 'made of letters, digits, "-", "_" and ".", with a letter or digit at each end';

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

export interface Taint {
  readonly key: string;
  readonly value: string | undefined;
  readonly effect: TaintEffect;
}

export type TaintParse = { ok: true; taint: Taint } | { ok: false; reason: string };

/** Labels in a Kubernetes namespace that kubelet may set on its own node. */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'kubernetes.io/instance-type',
  'beta.kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/instance-type',
  'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.kubernetes.io/region',
  'failure-domain.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
]);
const KUBELET_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

/** Labels civostack puts on every node itself (the plan and the operator), from the manifest. */
export const CIVOSTACK_LABELS: Readonly<Record<string, string>> = {
  'topology.kubernetes.io/region': "the region's name",
  'topology.kubernetes.io/zone': "the node's rack",
  'civostack.io/sku': "the node's SKU",
  'civostack.io/rack': "the node's rack",
  'civostack.io/role': "the node's role",
};

/** Why `key` is not a label key ("[prefix/]name"), or undefined; the reason follows the key. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'has more than one "/"';
  const name = parts.at(-1)!;
  const prefix = parts.length === 2 ? parts[0]! : undefined;
  if (prefix !== undefined) {
    if (prefix === '') return 'has an empty prefix before "/"';
    const problem = dnsNameProblem(prefix);
    if (problem) return `has a prefix "${prefix}" that is not a DNS name: it ${problem.reason}`;
  }
  return nameProblem(name, 'name');
}

/** Why `value` is not a label value (empty, or a name), or undefined. */
export function labelValueProblem(value: string): string | undefined {
  return value === '' ? undefined : nameProblem(value, 'value');
}

/**
 * The Kubernetes namespace of a key kubelet refuses to set on its own node ("kubernetes.io"), or
 * undefined when kubelet may set it.
 */
export function kubeletRefusedNamespace(key: string): string | undefined {
  const slash = key.indexOf('/');
  if (slash < 0 || KUBELET_LABELS.has(key)) return undefined;
  const ns = key.slice(0, slash);
  const reserved = ['kubernetes.io', 'k8s.io'].find((r) => ns === r || ns.endsWith(`.${r}`));
  if (reserved === undefined) return undefined;
  return KUBELET_NAMESPACES.some((k) => ns === k || ns.endsWith(`.${k}`)) ? undefined : reserved;
}

/** Parses "key[=value]:Effect", the form kubelet's --register-with-taints takes. */
export function parseTaint(text: string): TaintParse {
  const parts = text.split(':');
  if (parts.length === 1) return { ok: false, reason: 'has no effect (":NoSchedule" or another)' };
  if (parts.length > 2) return { ok: false, reason: 'has more than one ":"' };
  const [keyValue, effectText] = parts as [string, string];
  const effect = TAINT_EFFECTS.find((e) => e === effectText);
  if (effect === undefined) {
    const near = TAINT_EFFECTS.find((e) => e.toLowerCase() === effectText.toLowerCase());
    return {
      ok: false,
      reason: near
        ? `has the effect "${effectText}"; effects are spelt ${near}`
        : `has the effect "${effectText}", which is none of ${TAINT_EFFECTS.join(', ')}`,
    };
  }
  const kv = keyValue.split('=');
  if (kv.length > 2) return { ok: false, reason: 'has more than one "="' };
  const [key, value] = kv as [string, string | undefined];
  if (key === '') return { ok: false, reason: 'has no key' };
  const keyProblem = labelKeyProblem(key);
  if (keyProblem) return { ok: false, reason: `has a key "${key}" that ${keyProblem}` };
  const valueProblem = value === undefined ? undefined : labelValueProblem(value);
  if (valueProblem) return { ok: false, reason: `has a value "${value}" that ${valueProblem}` };
  return { ok: true, taint: { key, value, effect } };
}

/** The reason follows the key ("has a name …") or the value itself ("is …"). */
function nameProblem(text: string, what: 'name' | 'value'): string | undefined {
  const subject = what === 'name' ? 'has a name that is' : 'is';
  if (text === '') return `has an empty ${what}`;
  if (text.length > 63) return `${subject} ${text.length} characters long; at most 63 are allowed`;
  if (!NAME.test(text)) return `${subject} not ${NAME_RULE}`;
  return undefined;
}
