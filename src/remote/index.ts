// The remote shell: commands on nodes over SSH, with host keys known in advance.
export { HostKeyMismatch, keyBlob, sshExec, type ExecResult, type SshTarget } from './ssh.js';
