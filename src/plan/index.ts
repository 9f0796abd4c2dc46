// The plan stage: a validated Region and recorded allocations in, the Plan out. Pure.
export { planRegion, NODE_MTU, type PlanOptions, type PlanResult } from './plan.js';
export { AllocationError, type AllocationTable, type Orphan } from './allocator.js';
export { PEER_LINK, KEEPALIVE_VLAN } from './fabric.js';
export { BOGONS, TRANSIT_MAX_PREFIX_LENGTH } from './bgp-policy.js';
export type * from './types.js';
