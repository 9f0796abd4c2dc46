// Live switches: what each one runs, read over SSH with pinned host keys, and its render pushed.
export {
  civostackKey,
  hostKeysPath,
  openSwitch,
  parseHostKeys,
  switchTargets,
  type SwitchTarget,
  type Unreachable,
} from './targets.js';
export {
  describeSteps,
  frrLayout,
  pushSteps,
  readDevice,
  runPushSteps,
  FRR_RELOAD,
  SONIC_CONFIG_DB,
  type PushStep,
} from './device.js';
export { readLive, type LiveRead, type LiveReadOptions } from './live.js';
