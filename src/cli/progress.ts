// Progress of long operations: one event stream, two renderers. In a terminal an ora spinner
// shows every node's state on one line; elsewhere (CI, pipes) each change is one plain line.
import ora, { type Ora } from 'ora';
import type { Io } from './output.js';

export interface NodeProgress {
  /** A node's state changed (text like "installing 42%"). */
  node(name: string, text: string): void;
  /** A message that is not about one node. */
  info(text: string): void;
  stop(final?: string): void;
}

export function nodeProgress(io: Io, nodes: readonly string[], interactive = io.color): NodeProgress {
  const states = new Map(nodes.map((n) => [n, 'pending']));
  const lastPrinted = new Map<string, string>();
  if (!interactive) {
    return {
      node(name, text) {
        // Installing percentages are printed in steps of 10 so logs stay readable.
        const shown = text.replace(
          /^installing (\d+)%$/,
          (_, p: string) => `installing ${Math.floor(Number(p) / 10) * 10}%`,
        );
        if (lastPrinted.get(name) === shown) return;
        lastPrinted.set(name, shown);
        io.out(`${new Date().toISOString().slice(11, 19)} ${name}: ${text}`);
      },
      info: (text) => io.out(`${new Date().toISOString().slice(11, 19)} ${text}`),
      stop: (final) => final && io.out(final),
    };
  }
  const spinner: Ora = ora({ stream: process.stderr }).start();
  const render = () => (spinner.text = [...states].map(([n, s]) => `${n} ${s}`).join(' · '));
  render();
  return {
    node(name, text) {
      states.set(name, text);
      render();
    },
    info(text) {
      spinner.clear();
      io.err(text);
      render();
    },
    stop(final) {
      if (final) spinner.succeed(final);
      else spinner.stop();
    },
  };
}
