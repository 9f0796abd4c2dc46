// `civostack lab vm <node> <action>`: the hook the lab's BMC emulators call (kept light: see lab-vm.ts).
import { ExitCode, UserError } from '../errors.js';
import { labVm } from '../lab/vm-hook.js';
import { resolve } from 'node:path';
import type { Io } from './output.js';

// watch-console is the console watchdog's own call (src/lab/console-watchdog.ts), not one for people.
const VM_ACTIONS = ['start', 'stop', 'reset', 'status', 'boot-next', 'boot-status', 'watch-console'] as const;

/** `civostack lab vm <node> <action>`: the hook the lab's BMC emulators call. Prints the result. */
export async function labVmCommand(
  io: Io,
  node: string,
  action: string,
  device: string | undefined,
  flags: { stateDir?: string; via: string },
): Promise<number> {
  if (!flags.stateDir)
    throw new UserError('lab vm needs --state-dir', 'the lab passes its state folder', ExitCode.usage);
  if (!(VM_ACTIONS as readonly string[]).includes(action))
    throw new UserError(`unknown action ${action}`, `one of ${VM_ACTIONS.join(', ')}`, ExitCode.usage);
  if (action === 'boot-next' && device !== 'pxe' && device !== 'disk' && device !== 'none')
    throw new UserError('boot-next needs pxe, disk or none', undefined, ExitCode.usage);
  const via = flags.via === 'ipmi' || flags.via === 'redfish' ? flags.via : 'cli';
  const state = { path: resolve(flags.stateDir) };
  io.out(
    await labVm(
      state,
      node,
      action as (typeof VM_ACTIONS)[number],
      via,
      device as 'pxe' | 'disk' | 'none' | undefined,
    ),
  );
  return ExitCode.ok;
}
