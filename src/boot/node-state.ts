// Where each node is on its way from power-on to SSH: a small state machine, pure, plus the
// events that move it. The store (node-store.ts) keeps it in the region's state folder.

export const NODE_STATES = [
  'pending',
  'dhcp',
  'ipxe',
  'installing',
  'installed',
  'booted-from-disk',
  'ssh-ready',
  'failed',
] as const;
export type NodeStateName = (typeof NODE_STATES)[number];

export interface NodeState {
  readonly state: NodeStateName;
  readonly percent?: number;
  readonly message?: string;
  /** MAC and address the node last talked to the boot server from. */
  readonly mac?: string;
  readonly address?: string;
  /** SSH host public keys the installer reported, one OpenSSH line each. */
  readonly hostKeys?: readonly string[];
  readonly updatedAt: string;
}

export type NodeEvent =
  | { readonly kind: 'dhcp'; readonly mac: string; readonly address: string }
  | { readonly kind: 'ipxe'; readonly mac: string; readonly address: string }
  | {
      readonly kind: 'progress';
      readonly state: 'installing' | 'installed' | 'failed';
      readonly percent?: number;
      readonly message?: string;
    }
  | { readonly kind: 'hostkeys'; readonly keys: readonly string[] }
  | { readonly kind: 'ssh-ready' }
  | { readonly kind: 'reinstall' };

/** States after which the node's disk holds a finished install: it boots from disk from then on. */
export function isInstalled(s: NodeState | undefined): boolean {
  return (
    s !== undefined && (s.state === 'installed' || s.state === 'booted-from-disk' || s.state === 'ssh-ready')
  );
}

export function initialState(now: string): NodeState {
  return { state: 'pending', updatedAt: now };
}

export function applyEvent(current: NodeState, event: NodeEvent, now: string): NodeState {
  const base = { ...current, updatedAt: now };
  switch (event.kind) {
    case 'dhcp':
      // A lease never moves a node backwards: the installer asks for one after iPXE did, and an
      // installed node asks again at every reboot.
      if (isInstalled(current) || current.state === 'installing' || current.state === 'ipxe') {
        return { ...base, mac: event.mac, address: event.address };
      }
      return { ...withoutProgress(base), state: 'dhcp', mac: event.mac, address: event.address };
    case 'ipxe':
      if (isInstalled(current)) {
        return {
          ...base,
          state: current.state === 'ssh-ready' ? 'ssh-ready' : 'booted-from-disk',
          mac: event.mac,
          address: event.address,
        };
      }
      return { ...withoutProgress(base), state: 'ipxe', mac: event.mac, address: event.address };
    case 'progress':
      if (event.state === 'installing') {
        return {
          ...base,
          state: 'installing',
          percent: clampPercent(event.percent ?? 0),
          ...msg(event.message),
        };
      }
      if (event.state === 'installed')
        return { ...withoutProgress(base), state: 'installed', percent: 100, ...msg(event.message) };
      return { ...base, state: 'failed', message: event.message ?? 'the installer reported a failure' };
    case 'hostkeys':
      return { ...base, hostKeys: [...event.keys] };
    case 'ssh-ready':
      return { ...withoutProgress(base), state: 'ssh-ready' };
    case 'reinstall':
      return { state: 'pending', updatedAt: now };
  }
}

function withoutProgress(s: NodeState): NodeState {
  const { percent: _p, message: _m, ...rest } = s;
  return rest;
}

function msg(message: string | undefined): { message?: string } {
  return message ? { message } : {};
}

function clampPercent(p: number): number {
  return Number.isFinite(p) ? Math.max(0, Math.min(100, Math.round(p))) : 0;
}

/** "installing 42%", "failed: image checksum mismatch", for humans. */
export function describeState(s: NodeState): string {
  if (s.state === 'installing') return `installing ${s.percent ?? 0}%`;
  if (s.state === 'failed') return `failed: ${s.message ?? 'unknown error'}`;
  return s.state;
}
