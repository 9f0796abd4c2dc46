// The lab's pure parts: the network description from the plan, the commands that build it, QEMU's arguments.
import { describe, expect, it } from 'vitest';
import { createLabNetwork, destroyLabNetwork, labNetwork, type Exec } from '../../src/lab/netns.js';
import { qemuArgs, vmCommand } from '../../src/lab/qemu.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion, type NodePlan, type Plan } from '../../src/plan/index.js';
import { LAB } from '../helpers/manifest.js';

function labPlan(): Plan {
  const loaded = loadRegion(LAB);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return planRegion(loaded.region, {}, { prune: false }).plan;
}

const plan = labPlan();
const nodeNamed = (name: string): NodePlan => {
  const n = plan.nodes.find((x) => x.name === name);
  if (!n) throw new Error(name);
  return n;
};

/** Records every command; answers from `reply` (default: success). */
function recorder(
  reply: (argv: string[]) => { exitCode: number; stderr?: string; stdout?: string } = () => ({ exitCode: 0 }),
) {
  const calls: string[] = [];
  const exec: Exec = (file, args) => {
    const argv = [file, ...args];
    calls.push(argv.join(' '));
    const r = reply(argv);
    return Promise.resolve({ exitCode: r.exitCode, stdout: r.stdout ?? '', stderr: r.stderr ?? '' });
  };
  return { calls, exec };
}

describe('labNetwork', () => {
  const net = labNetwork(plan, 'lab1');

  it('names the namespace for the region and keeps every interface name within 15 characters', () => {
    expect(net.namespace).toBe('civo-lab1');
    const names = [
      net.bridge.name,
      ...net.vlanInterfaces.map((v) => v.name),
      ...net.nodes.flatMap((n) => [...n.taps.map((t) => t.name), n.bond?.name ?? '']),
    ];
    for (const name of names) expect(name.length).toBeLessThanOrEqual(15);
    expect(new Set(names).size).toBe(names.length);
  });

  it('puts the bootstrap address and the provisioning gateway untagged on the bridge, the node gateway on its VLAN', () => {
    expect(net.mode).toBe('switched');
    expect(net.bridge).toMatchObject({ name: 'br-r01', vlanFiltering: true, pvid: 10, tagged: [20] });
    expect(net.bridge.addresses).toEqual(['10.100.0.5/24', '10.100.0.1/24']);
    expect(net.vlanInterfaces).toEqual([
      { name: 'br-r01.20', parent: 'br-r01', vlan: 20, addresses: ['10.101.0.1/24'] },
    ]);
    expect(net.mtu).toBe(9000);
    expect(net.limitations).toEqual([]);
  });

  it('gives every node two taps with its MACs in a fast-LACP bond: provisioning untagged, node VLAN tagged', () => {
    expect(net.nodes).toHaveLength(3);
    expect(net.nodes[0]).toEqual({
      node: 'r01-n01',
      firmware: 'uefi',
      taps: [
        { name: 'n1a', nic: 'nic0', mac: '52:54:00:aa:00:01' },
        { name: 'n1b', nic: 'nic1', mac: '52:54:00:bb:00:01' },
      ],
      bond: { name: 'po1', mode: '802.3ad', lacpRate: 'fast' },
      bridgePorts: ['po1'],
      pvid: 10,
      tagged: [20],
    });
  });

  it('takes its values from the plan, not from constants', () => {
    const rack = plan.racks[0];
    if (!rack) throw new Error('no rack');
    const edited: Plan = {
      ...plan,
      bootstrap: { ...plan.bootstrap, address: '10.100.0.9' },
      racks: [
        {
          ...rack,
          provisioning: { ...rack.provisioning, vlan: 110, gateway: '10.100.0.254' },
          node: { ...rack.node, vlan: 120 },
        },
      ],
    };
    const other = labNetwork(edited, 'x');
    expect(other.bridge).toMatchObject({
      pvid: 110,
      tagged: [120],
      addresses: ['10.100.0.9/24', '10.100.0.254/24'],
    });
    expect(other.vlanInterfaces[0]?.name).toBe('br-r01.120');
    expect(other.nodes[0]).toMatchObject({ pvid: 110, tagged: [120] });
  });

  it('degrades to a flat untagged L2 and says so when the kernel lacks bonding and VLANs', () => {
    const flat = labNetwork(plan, 'lab1', { features: { bonding: false, vlan: false, vlanFiltering: true } });
    expect(flat.mode).toBe('flat');
    expect(flat.vlanInterfaces).toEqual([]);
    expect(flat.nodes[1]).toMatchObject({ bond: undefined, bridgePorts: ['n2a', 'n2b'], tagged: [] });
    expect(flat.limitations[0]).toMatch(/CONFIG_BONDING.*CONFIG_VLAN_8021Q/);
  });

  it('rejects an unknown rack', () => {
    expect(() => labNetwork(plan, 'lab1', { rack: 'r99' })).toThrow(/rack r99/);
  });
});

describe('createLabNetwork / destroyLabNetwork', () => {
  const net = labNetwork(plan, 'lab1');

  it('runs ip/bridge commands inside the namespace, bonds before bridge VLANs', async () => {
    const { calls, exec } = recorder();
    await createLabNetwork(net, exec);
    expect(calls.slice(0, 7)).toEqual([
      'ip netns add civo-lab1',
      'ip -n civo-lab1 link set dev lo up',
      'ip -n civo-lab1 link add name br-r01 type bridge stp_state 0',
      'ip -n civo-lab1 link set dev br-r01 type bridge vlan_filtering 1 vlan_default_pvid 0',
      'ip -n civo-lab1 link set dev br-r01 mtu 9000 up',
      'bridge -n civo-lab1 vlan add vid 10 dev br-r01 pvid untagged self',
      'bridge -n civo-lab1 vlan add vid 20 dev br-r01 self',
    ]);
    expect(calls).toContain('ip -n civo-lab1 addr replace 10.100.0.5/24 dev br-r01');
    expect(calls).toContain('ip -n civo-lab1 addr replace 10.101.0.1/24 dev br-r01.20');
    const node2 = calls.filter((c) => /\b(po2|n2a|n2b)\b/.test(c));
    expect(node2).toEqual([
      'ip -n civo-lab1 link add name po2 type bond mode 802.3ad lacp_rate fast miimon 100',
      'ip -n civo-lab1 tuntap add dev n2a mode tap',
      'ip -n civo-lab1 link set dev n2a master po2',
      'ip -n civo-lab1 tuntap add dev n2b mode tap',
      'ip -n civo-lab1 link set dev n2b master po2',
      'ip -n civo-lab1 link set dev po2 master br-r01',
      'ip -n civo-lab1 link set dev po2 mtu 9000 up',
      'ip -n civo-lab1 link set dev n2a mtu 9000 up',
      'ip -n civo-lab1 link set dev n2b mtu 9000 up',
      'bridge -n civo-lab1 vlan add vid 10 dev po2 pvid untagged',
      'bridge -n civo-lab1 vlan add vid 20 dev po2',
    ]);
  });

  it('converges when run again over a partial network (existing parts are tolerated)', async () => {
    const { exec } = recorder((argv) =>
      argv.includes('add') && !argv.includes('vlan') && !argv.includes('addr')
        ? { exitCode: 2, stderr: 'RTNETLINK answers: File exists' }
        : { exitCode: 0 },
    );
    await expect(createLabNetwork(net, exec)).resolves.toBeUndefined();
  });

  it('stops on a real failure with the command in the message', async () => {
    const { exec } = recorder((argv) =>
      argv.includes('bond') ? { exitCode: 2, stderr: 'Error: Unknown device type.' } : { exitCode: 0 },
    );
    await expect(createLabNetwork(net, exec)).rejects.toThrow(/type bond .*Unknown device type/);
  });

  it('destroy kills what runs in the namespace, deletes taps before the namespace, and tolerates absence', async () => {
    let pidsAsked = 0;
    const { calls, exec } = recorder((argv) => {
      if (argv.join(' ') === 'ip netns pids civo-lab1')
        return { exitCode: 0, stdout: pidsAsked++ === 0 ? '4242\n' : '' };
      if (argv.includes('del')) return { exitCode: 1, stderr: 'Cannot find device "x"' };
      return { exitCode: 0 };
    });
    await destroyLabNetwork(net, exec, { sleep: () => Promise.resolve() });
    expect(calls[1]).toBe('kill -TERM 4242');
    expect(calls).not.toContain('kill -KILL 4242');
    expect(calls.indexOf('ip -n civo-lab1 link del dev n1a')).toBeLessThan(
      calls.indexOf('ip netns del civo-lab1'),
    );
    expect(calls.at(-1)).toBe('ip netns del civo-lab1');
  });
});

describe('qemuArgs', () => {
  const opts = { accel: 'tcg' as const, stateDir: '/var/lib/civo/lab1/vms' };

  it('boots a BIOS node from its first NIC through the iPXE option ROM, then the disk', () => {
    const args = qemuArgs(nodeNamed('r01-n02'), { ...opts, taps: ['n2a', 'n2b'] }).join(' ');
    expect(args).toContain('-machine pc -accel tcg -cpu max,la57=off');
    expect(args).toContain('-m 1024M');
    expect(args).toContain('-display none');
    expect(args).toContain('-serial file:/var/lib/civo/lab1/vms/r01-n02.serial.log');
    expect(args).toContain('-pidfile /var/lib/civo/lab1/vms/r01-n02.pid');
    expect(args).toContain(
      '-drive if=none,id=disk0,format=qcow2,cache=unsafe,detect-zeroes=unmap,discard=unmap,file=/var/lib/civo/lab1/vms/r01-n02.qcow2',
    );
    expect(args).toContain('-device virtio-blk-pci,drive=disk0,bootindex=2');
    expect(args).toContain('-netdev tap,id=net0,ifname=n2a,script=no,downscript=no');
    expect(args).toContain('-device virtio-net-pci,netdev=net0,mac=52:54:00:aa:00:02,bootindex=1 ');
    expect(args).toContain('-netdev tap,id=net1,ifname=n2b,script=no,downscript=no');
    expect(args).toMatch(/-device virtio-net-pci,netdev=net1,mac=52:54:00:bb:00:02$/);
    expect(args).not.toContain('pflash');
    expect(args).not.toContain('romfile');
  });

  it('boots a UEFI node with OVMF and the firmware PXE (no iPXE option ROM), with its own NVRAM copy', () => {
    const args = qemuArgs(nodeNamed('r01-n01'), { ...opts, accel: 'kvm', taps: ['n1a', 'n1b'] }).join(' ');
    expect(args).toContain('-machine q35 -accel kvm -cpu host');
    expect(args).toContain(
      '-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
    );
    expect(args).toContain(
      '-drive if=pflash,format=raw,unit=1,file=/var/lib/civo/lab1/vms/r01-n01.OVMF_VARS.fd',
    );
    expect(args).toContain('-device virtio-net-pci,netdev=net0,mac=52:54:00:aa:00:01,bootindex=2,romfile= ');
    expect(args).toContain('-device virtio-blk-pci,drive=disk0,bootindex=1');
    expect(args).toMatch(/-device virtio-net-pci,netdev=net1,mac=52:54:00:bb:00:01,romfile=$/);
    // A BMC's one-time PXE keeps a UEFI disk first (a blank disk falls through to PXE): QEMU's order
    // outlives the installer's reboot, which must come back to the disk.
    const pxe = qemuArgs(nodeNamed('r01-n01'), { ...opts, taps: ['n1a', 'n1b'], boot: 'pxe' }).join(' ');
    expect(pxe).toContain('-device virtio-blk-pci,drive=disk0,bootindex=1');
    // A BIOS node takes the override: the NIC first, or the disk first.
    const bios = (boot: 'pxe' | 'disk') =>
      qemuArgs(nodeNamed('r01-n02'), { ...opts, taps: ['n2a', 'n2b'], boot }).join(' ');
    expect(bios('pxe')).toContain('mac=52:54:00:aa:00:02,bootindex=1');
    expect(bios('disk')).toContain('-device virtio-blk-pci,drive=disk0,bootindex=1');
  });

  it('needs one tap per NIC', () => {
    expect(() => qemuArgs(nodeNamed('r01-n01'), { ...opts, taps: ['n1a'] })).toThrow(/2 NICs but 1 taps/);
  });
});

describe('vmCommand', () => {
  const opts = { accel: 'tcg' as const, stateDir: '/var/lib/civo/lab1/vms', namespace: 'civo-lab1' };

  it('starts QEMU in the namespace, under nice when the machine yields the host', () => {
    const plain = vmCommand(nodeNamed('r01-n02'), { ...opts, taps: ['n2a', 'n2b'] });
    expect(plain.slice(0, 5)).toEqual(['ip', 'netns', 'exec', 'civo-lab1', 'qemu-system-x86_64']);
    const niced = vmCommand(nodeNamed('r01-n02'), { ...opts, taps: ['n2a', 'n2b'], nice: 10 });
    expect(niced.slice(0, 8)).toEqual([
      'nice',
      '-n',
      '10',
      'ip',
      'netns',
      'exec',
      'civo-lab1',
      'qemu-system-x86_64',
    ]);
    expect(niced.slice(8)).toEqual(plain.slice(5));
    expect(() => vmCommand(nodeNamed('r01-n02'), { ...opts, taps: ['n2a', 'n2b'], nice: 20 })).toThrow(
      /0 to 19/,
    );
  });
});
