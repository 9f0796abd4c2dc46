// The lab: a rack's network in a namespace and QEMU machines on it, for rehearsing a region on one host.
export {
  labNetwork,
  createLabNetwork,
  destroyLabNetwork,
  createSteps,
  destroySteps,
  probeLabFeatures,
  execCommand,
  ALL_FEATURES,
  LabNetworkError,
  type LabNetwork,
  type LabNetworkOptions,
  type LabNodePort,
  type LabTap,
  type LabFeatures,
  type LabStep,
  type Exec,
  type ExecResult,
  type DestroyOptions,
} from './netns.js';
export {
  chooseAccel,
  machineArgs,
  probeBoot,
  recordVerdict,
  type AccelChoice,
  type AccelVerdict,
  type Firmware,
} from './accel.js';
export {
  qemuArgs,
  startVm,
  stopVm,
  vmRunning,
  vmFiles,
  tailSerial,
  OVMF,
  QEMU,
  VmError,
  type Accel,
  type QemuOptions,
  type StartVmOptions,
  type VmFiles,
} from './qemu.js';
export { labDown, labStatus, labPaths, claimLabSubnet, LabError, type LabStatus } from './lab.js';
export { labDiagnose } from './diagnose.js';
export { labEnvironment, labPhases, type LabEnvironmentOptions } from './environment.js';
export { labBootService } from './boot-service.js';
export {
  ensureBmcEmulators,
  stopBmcEmulators,
  ensureLabBmcCredentials,
  hostOobAddress,
  SUSHY_VENV,
  type BmcEmulator,
  type BmcEmulatorOptions,
} from './bmc-emulators.js';
export {
  labVm,
  readAudit,
  labNotices,
  vmIsOn,
  writeVmSpec,
  vmHookPaths,
  type VmAction,
  type VmSpec,
  type AuditEntry,
  type BmcCaller,
} from './vm-hook.js';
export { startRedfishRelay, relayActions, RELAY_PORT } from './redfish-relay.js';
export { qmpCommand } from './qmp.js';
