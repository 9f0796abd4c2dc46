// Validation: schema first, then every semantic rule; all problems come back at once, as data.
import type { z } from 'zod';
import { parseAsn } from './asn.js';
import type { Catalog } from './catalog.js';
import { byPosition, formatPath, formatPosition, type Diagnostic, type Path } from './diagnostics.js';
import { gatherFacts } from './facts.js';
import { parseMac, type Mac } from './mac.js';
import { ipToInt, networkOf, parseCidr, type Cidr } from './net.js';
import type { BmcAccess, Node, Rack, Region, Switch } from './region.js';
import { mergedBmc } from './rules/bmc.js';
import { closest } from './rules/context.js';
import { rules, type FileRef, type RuleContext } from './rules/index.js';
import { manifestSchema, type Manifest, type ManifestBmc } from './schema.js';
import type { SourceDoc } from './source.js';

export interface Validation {
  readonly diagnostics: readonly Diagnostic[];
  readonly fileRefs: readonly FileRef[];
  readonly manifest: Manifest | undefined;
}

export function validateManifest(doc: SourceDoc, catalog: Catalog): Validation {
  const diagnostics: Diagnostic[] = [];
  let parsed = manifestSchema.safeParse(doc.data, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) diagnostics.push(fromZod(doc, issue));
    // Unknown fields (typos, mostly) do not stop the semantic rules: drop them and parse again,
    // so one misspelt key does not hide every other problem in the file.
    if (parsed.error.issues.every((i) => i.code === 'unrecognized_keys')) {
      parsed = manifestSchema.safeParse(withoutKeys(doc.data, parsed.error.issues), { reportInput: true });
    }
    if (!parsed.success)
      return { diagnostics: diagnostics.sort(byPosition), fileRefs: [], manifest: undefined };
  }
  const manifest = parsed.data;
  const fileRefs: FileRef[] = [];
  const report =
    (severity: Diagnostic['severity']) =>
    (path: Path, code: string, message: string, hint?: string): void => {
      diagnostics.push({
        severity,
        code,
        message,
        path,
        position: doc.locate(path),
        ...(hint ? { hint } : {}),
      });
    };
  const ctx: RuleContext = {
    manifest,
    catalog,
    facts: gatherFacts(manifest, catalog),
    error: report('error'),
    warn: report('warning'),
    at: (path) => {
      const p = doc.locate(path);
      return `${p.file.split('/').at(-1)}:${p.line}`;
    },
    needFile: (path, ref, kind, optional) =>
      fileRefs.push({ path, ref, kind, ...(optional ? { optional } : {}) }),
  };
  for (const rule of rules) rule(ctx);
  return { diagnostics: diagnostics.sort(byPosition), fileRefs, manifest };
}

function fromZod(doc: SourceDoc, issue: z.core.$ZodIssue): Diagnostic {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const field = formatPath(path);
  const base = { severity: 'error' as const, code: `schema-${issue.code}`, path };
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0] ?? '';
      const known = Object.keys(shapeAt(path) ?? {});
      const near = closest(key, known);
      return {
        ...base,
        message: `unknown field "${issue.keys.join('", "')}"`,
        path: [...path, key],
        position: doc.locateKey([...path, key]),
        hint: near ? `did you mean "${near}"?` : `fields here: ${known.join(', ')}`,
      };
    }
    case 'invalid_type': {
      if (path.length === 0) {
        return {
          ...base,
          message: `the manifest must be a mapping of fields, not ${describe(issue.input)}`,
          position: doc.locate([]),
          hint: 'start from inventories/lab.yaml',
        };
      }
      const missing = issue.input === undefined;
      return {
        ...base,
        message: missing
          ? `missing field "${String(path.at(-1) ?? '')}"`
          : `${field} must be ${article(issue.expected)}, not ${describe(issue.input)}`,
        // A missing field is reported at the key of the mapping that should hold it.
        position: missing
          ? path.length > 1
            ? doc.locateKey(path.slice(0, -1))
            : doc.locate([])
          : doc.locate(path),
        hint: missing
          ? `add ${field} (${article(issue.expected)})`
          : `write ${field} as ${article(issue.expected)}`,
      };
    }
    case 'invalid_value':
      return {
        ...base,
        message: `${field} is ${JSON.stringify(issue.input)}`,
        position: doc.locate(path),
        hint: `one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'too_small':
    case 'too_big':
      return {
        ...base,
        message: `${field}: ${issue.message}`,
        position: doc.locate(path),
        hint: `see the manifest reference for ${field}`,
      };
    default:
      return {
        ...base,
        message: `${field} ${issue.message}`,
        position: doc.locate(path),
        hint: `see the manifest reference for ${field}`,
      };
  }
}

function withoutKeys(data: unknown, issues: readonly z.core.$ZodIssue[]): unknown {
  const copy: unknown = structuredClone(data);
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    let target: unknown = copy;
    for (const part of issue.path) target = (target as Record<PropertyKey, unknown>)[part];
    for (const key of issue.keys) delete (target as Record<string, unknown>)[key];
  }
  return copy;
}

function article(t: string): string {
  return /^[aeio]/.test(t) ? `an ${t}` : `a ${t}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The object shape of the schema at a data path, for "did you mean" on unknown fields. */
function shapeAt(path: Path): Record<string, unknown> | undefined {
  let schema: unknown = manifestSchema;
  for (const part of path) {
    schema = unwrap(schema);
    const def = (schema as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown } })
      .def;
    if (typeof part === 'number' && def?.type === 'array') schema = def.element;
    else if (typeof part === 'string' && def?.shape) schema = def.shape[part];
    else return undefined;
  }
  return (unwrap(schema) as { def?: { shape?: Record<string, unknown> } }).def?.shape;
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { type?: string; innerType?: unknown } };
  while (s?.def && (s.def.type === 'optional' || s.def.type === 'default') && s.def.innerType) {
    s = s.def.innerType as typeof s;
  }
  return s;
}

/** Builds the typed Region from a manifest that produced no errors. */
export function resolveRegion(file: string, manifest: Manifest, catalog: Catalog): Region {
  const facts = gatherFacts(manifest, catalog);
  const mac = (text: string): Mac => parseMac(text) ?? fail(`MAC ${text}`);
  const cidr = (text: string) => networkOf((parseCidr(text).ok ? text : fail(`CIDR ${text}`)) as Cidr);
  const asn = (v: unknown): number => {
    const parsed = parseAsn(v);
    return parsed.ok ? parsed.asn : fail(`ASN ${String(v)}`);
  };
  const switches: Switch[] = [];
  const nodes: Node[] = [];
  const racks: Rack[] = manifest.racks.map((rack) => {
    const mine: Switch[] = rack.switches.map((sw) => ({
      name: sw.name,
      role: sw.role,
      rack: rack.name,
      model: catalog.switches.get(sw.model) ?? fail(`model ${sw.model}`),
      mgmtMac: mac(sw.mgmtMac),
      upstreams: (sw.upstreams ?? []).map((u) => ({ ...u, peerAsn: asn(u.peerAsn) })),
      ssh: {
        address: sw.ssh?.address,
        port: sw.ssh?.port ?? 22,
        user: sw.ssh?.user ?? 'admin',
        hostKeyFile: sw.ssh?.hostKeyFile,
      },
    }));
    switches.push(...mine);
    const tors = mine.filter((s) => s.role === 'tor');
    const rackNodes: Node[] = rack.nodes.map((node) => {
      const sku = catalog.skus.get(node.sku) ?? fail(`sku ${node.sku}`);
      const cables = facts.cablesByNode.get(node.name) ?? [];
      return {
        name: node.name,
        role: node.role,
        rack: rack.name,
        sku,
        firmware: manifest.os.firmware ?? sku.firmware,
        bmcMac: node.bmcMac === undefined ? undefined : mac(node.bmcMac),
        bmc: bmcAccess(mergedBmc(rack, node)),
        renamedFrom: node.renamedFrom,
        nics: node.nics.map((nic, i) => ({
          name: sku.nics[i]?.name ?? `nic${i}`,
          mac: mac(nic.mac),
          speed: sku.nics[i]?.speed ?? 0,
          switch: cables[i]?.switch ?? fail(`cable of ${node.name}`),
          port: cables[i]?.port ?? fail(`port of ${node.name}`),
        })),
        labels: node.labels ?? {},
        taints: node.taints ?? [],
      };
    });
    nodes.push(...rackNodes);
    return {
      name: rack.name,
      tors: [tors[0] ?? fail('tor'), tors[1] ?? fail('tor')] as const,
      mgmt: mine.find((s) => s.role === 'mgmt'),
      borders: mine.filter((s) => s.role === 'border'),
      nodes: rackNodes,
      uplinks: rack.uplinks.map((u) => ({
        tor: u.switch,
        port: u.port,
        border: u.border,
        borderPort: u.borderPort,
      })),
    };
  });
  const n = manifest.networks;
  return {
    file,
    name: manifest.region.name,
    domain: manifest.region.domain,
    manifest,
    networks: {
      oob: { net: cidr(n.oob.cidr), rackPrefix: n.oob.rackPrefix, vlan: n.oob.vlan },
      provisioning: {
        net: cidr(n.provisioning.cidr),
        rackPrefix: n.provisioning.rackPrefix,
        vlan: n.provisioning.vlan,
      },
      node: { net: cidr(n.node.cidr), rackPrefix: n.node.rackPrefix, vlan: n.node.vlan },
      loopback: cidr(n.loopback),
      p2p: cidr(n.p2p),
      public: n.public.map(cidr),
      pods: cidr(n.pods),
      services: cidr(n.services),
    },
    asn: {
      border: asn(manifest.asn.border),
      torBase: asn(manifest.asn.torBase),
      scheme: manifest.asn.scheme,
    },
    bootstrap: {
      rack: manifest.bootstrap.rack,
      address: ipToInt(manifest.bootstrap.address),
      httpPort: manifest.bootstrap.httpPort,
    },
    apiVip: ipToInt(manifest.kubernetes.apiVip),
    racks,
    switches,
    nodes,
  };
}

/** IPMI 2.0's strongest common suite (HMAC-SHA256, AES-128), ipmitool's default. */
const DEFAULT_CIPHER_SUITE = 17;

function bmcAccess(b: ManifestBmc | undefined): BmcAccess | undefined {
  if (b === undefined) return undefined;
  return {
    protocol: b.protocol ?? fail('bmc protocol'),
    credentialsFile: b.credentialsFile ?? fail('bmc credentials'),
    address: b.address === undefined ? undefined : ipToInt(b.address),
    port: b.port,
    insecureTls: b.insecureTls ?? false,
    cipherSuite: b.cipherSuite ?? DEFAULT_CIPHER_SUITE,
  };
}

function fail(what: string): never {
  throw new Error(`internal: ${what} passed validation but does not resolve`);
}

export { formatPosition };
