// The lab's power control, in one place: a PowerDriverFactory whose drivers start and stop each
// node's QEMU machine directly (startVm/stopVm), as `lab vm <node> start|stop` would. It stands in
// until the lab's BMC emulators (ipmi_sim, sushy-tools) land: then this factory returns the real
// Redfish/IPMI drivers pointed at them, and nothing else changes.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootDevice, PowerDriver, PowerDriverFactory, PowerStatus } from '../bmc/driver.js';
import type { Plan } from '../plan/index.js';
import type { StateDir } from '../state/index.js';
import { labPaths } from './lab.js';
import type { LabNetwork } from './netns.js';
import { detectAccel, readPid, startVm, stopVm, tailSerial, vmFiles, vmRunning, type Accel } from './qemu.js';

export function labPowerFactory(plan: Plan, state: StateDir, net: LabNetwork): PowerDriverFactory {
  const paths = labPaths(state);
  const ports = new Map(net.nodes.map((p) => [p.node, p]));
  let accel: Promise<Accel> | undefined;
  return (name) => {
    const node = plan.nodes.find((n) => n.name === name);
    const port = ports.get(name);
    if (!node || !port) return undefined;
    const files = vmFiles(paths.vms, name);
    const bootNextFile = join(paths.vms, `${name}.boot-next`);
    const running = () => {
      const pid = readPid(files.pidfile);
      return pid !== undefined && vmRunning(pid) ? pid : undefined;
    };
    const start = async () => {
      accel ??= detectAccel();
      await startVm(node, {
        accel: await accel,
        taps: port.taps.map((t) => t.name),
        stateDir: paths.vms,
        namespace: net.namespace,
        memoryMiB: 1024,
      });
      // QEMU tries the NIC first on every boot (the boot server sends installed nodes to their
      // disk): a one-time PXE request is consumed by this power-on.
      if (readBootNext() === 'pxe') rmSync(bootNextFile, { force: true });
    };
    const readBootNext = (): BootDevice | undefined =>
      existsSync(bootNextFile) ? (readFileSync(bootNextFile, 'utf8').trim() as BootDevice) : undefined;
    const driver: PowerDriver = {
      protocol: 'ipmi',
      status(): Promise<PowerStatus> {
        return Promise.resolve({ power: running() ? 'on' : 'off', bootNext: readBootNext() ?? 'none' });
      },
      async on() {
        if (!running()) await start();
      },
      async off() {
        const pid = running();
        if (pid !== undefined) await stopVm(pid);
      },
      async cycle() {
        await driver.off();
        await start();
      },
      bootNext(device) {
        writeFileSync(bootNextFile, `${device}\n`);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    return driver;
  };
}

/** The end of a lab node's serial console, for a node that stopped somewhere. */
export function labDiagnose(state: StateDir): (node: string) => string | undefined {
  return (node) => {
    const files = vmFiles(labPaths(state).vms, node);
    const tail = tailSerial(files.serial, 25);
    return tail ? `--- last lines of ${files.serial}\n${tail}` : undefined;
  };
}
