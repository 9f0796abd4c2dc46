// The manifest stage: YAML with positions → schema → rules → a typed Region.
export { loadCatalog, loadRegion, BUILTIN_CATALOG, type LoadResult } from './load.js';
export { validateManifest, resolveRegion } from './validate.js';
export { parseYaml } from './source.js';
export { formatDiagnostic, formatPath, type Diagnostic } from './diagnostics.js';
export { manifestJsonSchema, type Manifest } from './schema.js';
export { parseMac, macHyphen, type Mac } from './mac.js';
export { downloadUrlProblem, hasScheme } from './url.js';
export { IMAGE_REF, operatorFlag, PROBE_FLAG_NAME } from './operator-values.js';
export { KEY_FILE_CAP, readBounded, SECRET_CAP, type BoundedRead } from './bounded-read.js';
export { parsePublicKeys, type PublicKeysParse } from './ssh-key.js';
export { imageFormat, unsupportedImageExtension, type ImageFormat } from './image.js';
export * from './net.js';
export { RACK_SUBNET } from './layout.js';
export type * from './region.js';
export type { Catalog, NodeSku, SwitchModel, SwitchPort } from './catalog.js';
