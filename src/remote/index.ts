// The remote shell: every command a phase runs on a node (or on this machine) goes through a Host.
export {
  redact,
  RemoteCommandError,
  shellQuote,
  type ExecOptions,
  type ExecResult,
  type Host,
  type UploadOptions,
  type UploadResult,
  type UploadSource,
} from './host.js';
export { fingerprint, HostKeyChanged, keyBlob } from './host-key.js';
export { pull, type PullSource } from './pull.js';
export { SshHost, type SshHostOptions } from './ssh-host.js';
export { LocalHost, type LocalHostOptions } from './local-host.js';
export { DEFAULT_CONCURRENCY, Limiter, parseConcurrency } from './limit.js';
export {
  allOrThrow,
  fanOut,
  FanOutError,
  type FanOutEvent,
  type FanOutOptions,
  type HostOutcome,
} from './fanout.js';
export { fileHostLog, hostLogPath, type HostLog } from './log.js';
