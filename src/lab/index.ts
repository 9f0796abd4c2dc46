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
  detectAccel,
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
export { labPowerFactory, labDiagnose } from './power.js';
export { labBootService } from './boot-service.js';
