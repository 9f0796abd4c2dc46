// The boot stage's shell: the HTTP boot server, dnsmasq, node states.
export { startBootService, bootRuntime, type BootService, type DhcpMode } from './service.js';
export {
  createBootServer,
  LISTEN_BACKLOG,
  type BootArtifacts,
  type BootEvent,
  type ImageArtifact,
} from './server.js';
export {
  NodeStore,
  readNodeStates,
  readNodeHistory,
  historyFile,
  type NodeStates,
  type NodeTransition,
  type UnknownMac,
} from './node-store.js';
export {
  NODE_STATES,
  applyEvent,
  describeState,
  initialState,
  isInstalled,
  type NodeState,
  type NodeStateName,
  type NodeEvent,
} from './node-state.js';
export { parseDnsmasqLine, startDnsmasq, type DnsmasqEvent } from './dnsmasq.js';
export { parseRange } from './http-file.js';
export { builtArtifacts, customArtifacts, type BuiltArtifacts } from './artifacts.js';
export { bootProgress } from './progress.js';
