// Renders every file a region needs from the Plan: pure, deterministic, in memory.
import { RenderError } from './render-error.js';
import { macHyphen, type Mac } from '../manifest/index.js';
import type { Plan, SwitchPlan } from '../plan/index.js';
import { bootIpxe, dnsmasqConf, localIpxe, nodeIpxe, type BootOptions } from './boot.js';
import { metaData, networkConfig, userData } from './cloud-init.js';
import { createEngine, type Templates } from './engine.js';
import { renderFrr } from './frr.js';
import { stableJson } from './json.js';
import { k3sConfig } from './k3s.js';
import { DEFAULT_IMAGES, kubeadmNodeFiles, type KubeadmImages } from '../kube/kubeadm-render.js';
import type { SecretValues } from './secrets.js';
import { checkConfigDb, configDb } from './sonic.js';
import { TreeBuilder, type FileTree } from './tree.js';

export interface RenderInputs {
  readonly plan: Plan;
  readonly templates: Templates;
  readonly secrets: SecretValues;
  /** Keys authorised on every node: the manifest's and civostack's own. */
  readonly authorizedKeys: readonly string[];
  readonly boot: BootOptions;
  /**
   * The images of the Kubernetes artifacts the nodes get (their artifacts.json), so the render of a
   * node's files is what the stage phase puts there; DEFAULT_IMAGES when none are named.
   */
  readonly images?: KubeadmImages;
}

export { RenderError };

export function renderRegion(inputs: RenderInputs): FileTree {
  const { plan, secrets } = inputs;
  const engine = createEngine(inputs.templates);
  const tree = new TreeBuilder();

  tree.add('boot/dnsmasq.conf', 'boot', dnsmasqConf(engine, plan, inputs.boot));
  tree.add('boot/ipxe/boot.ipxe', 'boot', bootIpxe(engine, plan));
  tree.add('boot/ipxe/local.ipxe', 'boot', localIpxe(engine));

  for (const node of plan.nodes) {
    const script = nodeIpxe(engine, plan, node);
    for (const nic of node.nics) tree.add(`boot/ipxe/${macHyphen(nic.mac as Mac)}.ipxe`, node.name, script);
    const dir = `nodes/${node.name}`;
    tree.add(`${dir}/cloud-init/meta-data`, node.name, metaData(plan, node));
    tree.add(`${dir}/cloud-init/user-data`, node.name, userData(plan, node, inputs.authorizedKeys));
    tree.add(`${dir}/cloud-init/network-config`, node.name, networkConfig(plan, node));
    if (plan.kubernetes.distribution === 'kubeadm') {
      // What civostack writes on the node, at the node's own paths (join files before the CA exists
      // show a placeholder for its hash).
      for (const f of kubeadmNodeFiles(plan, node, { ...(inputs.images ?? DEFAULT_IMAGES), secrets }))
        tree.add(`${dir}/kubeadm${f.path}`, node.name, f.content, f.secrets);
    } else {
      tree.add(`${dir}/k3s/config.yaml`, node.name, k3sConfig(plan, node));
    }
  }

  for (const sw of plan.switches) {
    const dir = `switches/${sw.name}`;
    const db = configDb(sw);
    const problems = checkConfigDb(db);
    if (problems.length > 0) {
      const list = problems.map((p) => `${p.table}|${p.key}: ${p.message}`).join('; ');
      throw new RenderError(`${sw.name}: config_db.json breaks SONiC's rules: ${list}`);
    }
    tree.add(`${dir}/config_db.json`, sw.name, stableJson(db));
    tree.add(`${dir}/ztp.json`, sw.name, stableJson(ztpJson(plan, sw)));
    if (sw.role !== 'mgmt') {
      const frr = renderFrr(engine, plan, sw, secrets);
      tree.add(`${dir}/frr.conf`, sw.name, frr.content, frr.secrets);
    }
  }
  return tree.build();
}

/** SONiC ZTP: fetch config_db.json from the boot server, then check the fabric answers. */
function ztpJson(plan: Plan, sw: SwitchPlan): unknown {
  const base = `${plan.bootstrap.url}/ztp/${sw.name}`;
  return {
    ztp: {
      '01-configdb-json': {
        url: { source: `${base}/config_db.json`, destination: '/etc/sonic/config_db.json' },
      },
      '02-connectivity-check': { 'ping-hosts': [plan.bootstrap.address] },
    },
  };
}
