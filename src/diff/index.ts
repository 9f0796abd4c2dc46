// The diff stage: what would change, per device, secrets redacted. Pure.
export { diffTrees, deviceOfPath, redact, type FileChange } from './diff.js';
export { changesJson, formatChanges } from './format.js';
