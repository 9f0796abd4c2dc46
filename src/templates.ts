// Reads the Handlebars templates shipped in templates/ (path → source) for the renderer.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Templates } from './render/index.js';

export const TEMPLATES_DIR = fileURLToPath(new URL('../templates/', import.meta.url));

export function loadTemplates(dir = TEMPLATES_DIR): Templates {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.hbs')) out[relative(dir, full)] = readFileSync(full, 'utf8');
    }
  };
  walk(dir);
  return out;
}
