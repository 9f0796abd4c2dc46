// The operator section: its image reference, and its values, each of which becomes a flag
// `--key=value` of the operator's Deployment. Checked when the manifest is read, not first when the
// bundle is rendered at the end of `region up`.

/** registry[:port]/path[:tag][@sha256:digest], lower-case path components (the OCI distribution spec). */
export const IMAGE_REF =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;

const FLAG_NAME = /^[a-z][a-z0-9-]*$/;

/** The Deployment's probes point at this flag's address, so values may not move it. */
export const PROBE_FLAG_NAME = 'health-probe-bind-address';

/** Flags the bundle sets from the region's plan and artifacts; values may not set them again. */
export const TENANT_FLAGS = [
  'tenant-versions',
  'tenant-etcd-image',
  'region-networks',
  'tenant-endpoint-host',
] as const;

export type OperatorFlag =
  | { readonly ok: true; readonly flag: string }
  | { readonly ok: false; readonly reason: string; readonly hint: string };

/** operator.values[key] as the operator flag --key=value, or why it cannot be one. */
export function operatorFlag(key: string, value: unknown): OperatorFlag {
  if (!FLAG_NAME.test(key))
    return {
      ok: false,
      reason: 'not a flag name',
      hint: 'each value becomes a flag of the operator: use its name in lower case with dashes, such as requeue-interval',
    };
  if (key === PROBE_FLAG_NAME)
    return {
      ok: false,
      reason: "the Deployment's probes need this flag at :8081",
      hint: 'remove it: the probes of the Deployment the bundle renders point at :8081',
    };
  if ((TENANT_FLAGS as readonly string[]).includes(key))
    return {
      ok: false,
      reason: "civostack sets this flag from the region's plan and Kubernetes artifacts",
      hint: 'remove it: the bundle sets it for every region',
    };
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    return {
      ok: false,
      reason: 'must be a string, a number or a boolean',
      hint: 'a flag takes one value: write it as a string, a number or true/false',
    };
  return { ok: true, flag: `--${key}=${String(value)}` };
}
