// The phase journal: what the last run did, phase by phase, for `region status` to show beside
// the node states. A hint only: phases never trust it, they observe the hosts and devices.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PhaseOutcome } from '../events.js';
import { writeFileAtomic, type StateDir } from '../state/index.js';

export interface JournalEntry {
  readonly phase: string;
  readonly title: string;
  readonly outcome: PhaseOutcome;
  readonly durationMs: number;
  readonly endedAt: string;
  readonly message?: string;
}

export interface JournalFile {
  readonly version: 1;
  readonly pid: number;
  readonly command: string;
  readonly startedAt: string;
  readonly phases: readonly JournalEntry[];
  readonly outcome?: 'done' | 'failed' | 'cancelled';
  readonly endedAt?: string;
}

export function journalPath(state: StateDir): string {
  return join(state.path, 'journal.json');
}

export interface Journal {
  record(entry: JournalEntry): void;
  end(outcome: 'done' | 'failed' | 'cancelled', at: string): void;
}

/** Starts a new journal for this run (the previous run's is replaced). */
export function startJournal(state: StateDir, o: { command: string; startedAt: string }): Journal {
  let data: JournalFile = {
    version: 1,
    pid: process.pid,
    command: o.command,
    startedAt: o.startedAt,
    phases: [],
  };
  const save = () => writeFileAtomic(journalPath(state), `${JSON.stringify(data, null, 2)}\n`);
  save();
  return {
    record(entry) {
      data = { ...data, phases: [...data.phases, entry] };
      save();
    },
    end(outcome, at) {
      data = { ...data, outcome, endedAt: at };
      save();
    },
  };
}

/** The last run's journal, or undefined; a damaged one is ignored (it is only a hint). */
export function readJournal(state: StateDir): JournalFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(journalPath(state), 'utf8')) as JournalFile;
    return parsed.version === 1 && Array.isArray(parsed.phases) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
