// Diagnostics from where a lab node runs: the end of its serial console, for a node that stopped
// somewhere. (The lab's machines are powered through their BMC emulators: src/lab/bmc-emulators.ts.)
import type { StateDir } from '../state/index.js';
import { labPaths } from './lab.js';
import { tailSerial, vmFiles } from './qemu.js';

/** The end of a lab node's serial console, for a node that stopped somewhere. */
export function labDiagnose(state: StateDir): (node: string) => string | undefined {
  return (node) => {
    const files = vmFiles(labPaths(state).vms, node);
    const tail = tailSerial(files.serial, 25);
    return tail ? `--- last lines of ${files.serial}\n${tail}` : undefined;
  };
}
