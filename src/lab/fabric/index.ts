// The fabric lab: the rendered switch and router configs running in FRR, checked and drilled.
export {
  fabricTopology,
  transitDevice,
  DEFAULT_PREFIX,
  type FabricTopology,
  type FabricDevice,
  type FabricLink,
  type TransitSession,
} from './topology.js';
export { createSteps as fabricCreateSteps } from './network.js';
export { announcements, accepted, transitConfig, INTERNET, type Announcement } from './transit.js';
export {
  fabricUp,
  fabricDown,
  fabricChecks,
  fabricRunRoot,
  FabricLabError,
  type FabricLab,
  type FabricEvent,
  type FabricUpOptions,
} from './fabric.js';
export { type CheckResult, type CheckStatus } from './checks.js';
export { startFrr, vtysh, vtyshJson, frrInstance, type FrrInstance } from './frr.js';
export {
  fabricDrill,
  maxPrefixDrill,
  failures,
  assess,
  type DrillResult,
  type FailureResult,
  type Failure,
} from './drill.js';
