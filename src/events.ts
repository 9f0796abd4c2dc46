// Progress as one typed stream: the engine, the boot service and the lab emit these; the CLI
// renders them (a task list in a terminal, timestamped lines elsewhere, JSON lines with
// `--output json`) and tests record them. Nothing parses prose back into numbers.
import type { NodeStateName } from './boot/index.js';

/** A stable name for each kind of message, for scripts reading `--output json` and for tests. */
export type EventCode =
  | 'phase.start'
  | 'phase.end'
  | 'action.planned'
  | 'action.start'
  | 'action.done'
  | 'node.state'
  | 'progress'
  | 'lock.taken-over'
  | 'lock.acquired'
  | 'power.manual'
  | 'power.failed'
  | 'node.failed'
  | 'boot.restarted'
  | 'boot.refused'
  | 'boot.unknown-mac'
  | 'boot.tftp'
  | 'lab.step'
  | 'kube.step'
  | 'kube.node'
  | 'operator.condition'
  | 'lab.accel-fallback'
  | 'run.cancelling'
  | 'warning'
  | 'log';

export type PhaseOutcome = 'done' | 'skipped' | 'failed' | 'cancelled';

export type CivoEvent =
  | {
      readonly kind: 'phase-start';
      readonly code: 'phase.start';
      readonly phase: string;
      readonly title: string;
    }
  | {
      readonly kind: 'phase-end';
      readonly code: 'phase.end';
      readonly phase: string;
      readonly title: string;
      readonly outcome: PhaseOutcome;
      readonly durationMs: number;
      /** Why it was skipped or failed. */
      readonly message?: string;
    }
  | {
      /** Something a phase would do (dry run, plan of work) or is doing now / has done. */
      readonly kind: 'action';
      readonly code: 'action.planned' | 'action.start' | 'action.done';
      readonly phase: string;
      /** The host or device it is about ("r01-n01", "r01-tor1", "state"). */
      readonly target: string;
      readonly text: string;
      /** A unified diff of the configuration it would apply, secrets redacted. */
      readonly diff?: string;
    }
  | {
      readonly kind: 'node-state';
      readonly code: 'node.state';
      readonly node: string;
      readonly state: NodeStateName;
      readonly percent?: number;
      readonly message?: string;
    }
  | {
      readonly kind: 'percent';
      readonly code: 'progress';
      readonly target: string;
      readonly percent: number;
      readonly text: string;
    }
  | {
      readonly kind: 'warning';
      readonly code: EventCode;
      readonly message: string;
      readonly phase?: string;
      readonly target?: string;
    }
  | {
      readonly kind: 'log';
      readonly code: EventCode;
      readonly message: string;
      readonly phase?: string;
      readonly target?: string;
    };

export type EventSink = (event: CivoEvent) => void;

/** A sink that keeps every event, for tests and for the end-of-run summary. */
export function recorder(): { readonly events: CivoEvent[]; readonly sink: EventSink } {
  const events: CivoEvent[] = [];
  return { events, sink: (e) => events.push(e) };
}

export function logEvent(message: string, code: EventCode = 'log', target?: string): CivoEvent {
  return { kind: 'log', code, message, ...(target !== undefined ? { target } : {}) };
}

export function warningEvent(message: string, code: EventCode = 'warning', target?: string): CivoEvent {
  return { kind: 'warning', code, message, ...(target !== undefined ? { target } : {}) };
}

/** "installing 42%", "failed: image checksum mismatch": a node state for humans. */
export function describeNodeEvent(e: Extract<CivoEvent, { kind: 'node-state' }>): string {
  if (e.state === 'installing') return `installing ${e.percent ?? 0}%`;
  if (e.state === 'failed') return `failed: ${e.message ?? 'unknown error'}`;
  return e.state;
}
