// The state stage: everything civostack keeps between runs, written atomically.
export { writeFileAtomic } from './atomic.js';
export { readAllocations, stateDirFor, writeAllocations, type StateDir } from './store.js';
export {
  readSecrets,
  writeSecrets,
  sshPrivateKeyPath,
  SSH_KEY,
  type PendingSecret,
  type ReadSecrets,
} from './secrets.js';
export { readTree, writeTree, MARKER } from './tree.js';
