// The diff stage: what would change, per device, secrets redacted. Pure.
export { diffTrees, deviceOfPath, redact, type FileChange } from './diff.js';
export { changesJson, formatChanges } from './format.js';
export { normaliseFrr, deviceOwnedLines, DEVICE_OWNED } from './frr-config.js';
export {
  canonicalConfigDb,
  configDbApply,
  configDbPath,
  frrPath,
  liveChanges,
  liveTrees,
  type LiveDevice,
  type SwitchPlatform,
} from './live.js';
