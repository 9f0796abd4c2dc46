// The install token a node's served iPXE script carries (as the installer reads it from its kernel
// command line), and the script as rendered, with the token's slot back in its place.
import { INSTALL_TOKEN_SLOT } from '../../src/render/index.js';

export function installTokenIn(script: string): string {
  const m = /civostack\.token=([0-9a-f]{32})(?=\s)/.exec(script);
  if (!m) throw new Error(`no install token in the script:\n${script}`);
  return m[1]!;
}

export const asRendered = (script: string): string =>
  script.replaceAll(installTokenIn(script), INSTALL_TOKEN_SLOT);
