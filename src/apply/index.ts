// The apply stage: the phase engine and region up's phases.
export {
  regionUp,
  rackPhases,
  installPhases,
  clusterPhases,
  powerFleet,
  type RegionUpOptions,
} from './region-up.js';
export { rackEnvironment, type Environment } from './environment.js';
export {
  runPhases,
  selectPhases,
  planWork,
  type PlannedPhase,
  type RunResult,
  type Selection,
} from './runner.js';
export { acquireLock, readLock, lockPath, processAlive, RegionLocked, type LockInfo } from './lock.js';
export { readJournal, journalPath, type JournalFile, type JournalEntry } from './journal.js';
export { Cancelled, eachAction, sleep, type Action, type Phase, type RunContext } from './phase.js';
export { rackBootService } from './rack-boot.js';
export type {
  BootServiceProvider,
  Cluster,
  PowerFleet,
  RegionContext,
  RunningBootService,
} from './context.js';
