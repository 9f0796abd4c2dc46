// Renderers of the progress events (src/events.ts): a task list (listr2) in a terminal, plain
// timestamped lines without one (CI, pipes, logs), JSON lines with `--output json`, and for the
// long-running boot server in a terminal a spinner with every node's state on one line.
import { Listr, type ListrTaskWrapper } from 'listr2';
import ora from 'ora';
import { describeNodeEvent, type CivoEvent, type EventSink } from '../events.js';
import type { Io } from './output.js';

export interface Renderer {
  readonly emit: EventSink;
  /** Waits for the renderer to finish drawing (the task list) and releases the terminal. */
  stop(): Promise<void>;
}

const clockTime = (d: Date) => d.toISOString().slice(11, 19);

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** One line per event, for people: what the plain renderer and the task list's log show. */
export function eventLine(e: CivoEvent): string | undefined {
  switch (e.kind) {
    case 'phase-start':
      return `==> ${e.title}`;
    case 'phase-end':
      return e.outcome === 'done'
        ? `<== ${e.title}: done in ${seconds(e.durationMs)}`
        : `<== ${e.title}: ${e.outcome}${e.message ? ` (${e.message})` : ''}`;
    case 'action':
      return e.code === 'action.done' ? undefined : `    ${e.target}: ${e.text}`;
    case 'node-state':
      return `${e.node}: ${describeNodeEvent(e)}`;
    case 'percent':
      return `${e.target}: ${e.text} ${e.percent}%`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'log':
      return e.message;
  }
}

/** Timestamped lines. Install percentages in steps of 10, so a log stays readable. */
export function plainRenderer(io: Io, clock: () => Date = () => new Date()): Renderer {
  const lastShown = new Map<string, string>();
  return {
    emit(e) {
      let line = eventLine(e);
      if (line === undefined) return;
      if (e.kind === 'node-state') {
        const shown =
          e.state === 'installing' ? `installing ${Math.floor((e.percent ?? 0) / 10) * 10}%` : line;
        if (lastShown.get(e.node) === shown) return;
        lastShown.set(e.node, shown);
        line = e.state === 'installing' ? `${e.node}: ${shown}` : line;
      }
      io.out(`${clockTime(clock())} ${line}`);
      if (e.kind === 'action' && e.diff) io.out(e.diff.replace(/^/gm, '      '));
    },
    stop: () => Promise.resolve(),
  };
}

/** Every event as one JSON object per line, with the time it was seen. */
export function jsonRenderer(io: Io, clock: () => Date = () => new Date()): Renderer {
  return {
    emit: (e) => io.out(JSON.stringify({ at: clock().toISOString(), ...e })),
    stop: () => Promise.resolve(),
  };
}

interface PhaseSlot {
  task?: ListrTaskWrapper<unknown, never, never>;
  end?: Extract<CivoEvent, { kind: 'phase-end' }>;
  output?: string;
  settle?: () => void;
  fail?: (err: Error) => void;
}

/**
 * A listr2 task list, one task per phase, drawn on stderr. It starts at the first phase (after
 * the plan of work was confirmed); each task ends when its phase-end event arrives.
 */
export function taskListRenderer(io: Io, phases: readonly { id: string; title: string }[]): Renderer {
  const slots = new Map(phases.map((p) => [p.id, {} as PhaseSlot]));
  const notes: string[] = [];
  let running: Promise<unknown> | undefined;
  const finish = (slot: PhaseSlot) => {
    const { task, end } = slot;
    if (!task || !end) return;
    if (end.outcome === 'done') {
      task.title = `${end.title} (${seconds(end.durationMs)})`;
      slot.settle?.();
    } else if (end.outcome === 'skipped') {
      task.skip(`${end.title}: ${end.message ?? 'nothing to do'}`);
      slot.settle?.();
    } else slot.fail?.(new Error(`${end.title}: ${end.outcome}`));
  };
  const start = () => {
    const list = new Listr(
      phases.map((p) => ({
        title: p.title,
        task: (_: unknown, task: ListrTaskWrapper<unknown, never, never>) =>
          new Promise<void>((resolve, reject) => {
            const slot = slots.get(p.id)!;
            Object.assign(slot, { task, settle: resolve, fail: reject });
            if (slot.output) task.output = slot.output;
            finish(slot);
          }),
      })),
      { concurrent: false, exitOnError: true },
    );
    running = list.run().catch(() => undefined);
  };
  return {
    emit(e) {
      if (e.kind === 'phase-start' && !running) start();
      const phase = 'phase' in e ? e.phase : undefined;
      const slot =
        (phase !== undefined ? slots.get(phase) : undefined) ??
        [...slots.values()].find((s) => s.task && !s.end);
      if (e.kind === 'phase-end' && slot) {
        slot.end = e;
        finish(slot);
        return;
      }
      if (e.kind === 'warning') notes.push(`warning: ${e.message}`);
      const line = eventLine(e);
      if (line === undefined || e.kind === 'phase-start') return;
      if (!running) io.err(line);
      else if (slot) {
        slot.output = line.trim();
        if (slot.task) slot.task.output = slot.output;
      }
    },
    async stop() {
      for (const slot of slots.values()) if (!slot.end) slot.fail?.(new Error('stopped'));
      await running;
      for (const n of notes) io.err(n);
    },
  };
}

/** For `pxe serve` in a terminal: a spinner showing every node's state on one line. */
export function nodeLineRenderer(io: Io, nodes: readonly string[]): Renderer {
  const states = new Map(nodes.map((n) => [n, 'pending']));
  const spinner = ora({ stream: process.stderr }).start();
  const draw = () => (spinner.text = [...states].map(([n, s]) => `${n} ${s}`).join(' · '));
  draw();
  return {
    emit(e) {
      if (e.kind === 'node-state') {
        states.set(e.node, describeNodeEvent(e));
        draw();
        return;
      }
      const line = eventLine(e);
      if (line === undefined) return;
      spinner.clear();
      io.err(line);
      draw();
    },
    stop() {
      spinner.stop();
      return Promise.resolve();
    },
  };
}
