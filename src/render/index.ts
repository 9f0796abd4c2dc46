// The render stage: the Plan in, a deterministic tree of files out. Pure.
export { renderRegion, RenderError, type RenderInputs } from './region.js';
export { DEFAULT_BOOT_OPTIONS, INSTALL_TOKEN_SLOT, installerUrls, inCidr, type BootOptions } from './boot.js';
export { secretValues, type SecretValues } from './secrets.js';
export { checkConfigDb, configDb, type ConfigDb } from './sonic.js';
export { stableJson } from './json.js';
export { BOGONS } from '../plan/index.js';
export type { FileTree, RenderedFile } from './tree.js';
export type { Templates } from './engine.js';
