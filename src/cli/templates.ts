// The shipped templates, for commands and benches that render (loaded by src/templates.ts).
export { loadTemplates, TEMPLATES_DIR } from '../templates.js';
