// The diff stage: what would change, per device, secrets redacted. Pure.
export { diffTrees, redact, type FileChange } from './diff.js';
export { changesJson, formatChanges } from './format.js';
