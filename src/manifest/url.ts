// Download URLs a node is handed (installer kernel and initrd, OS image): they reach its iPXE script
// and the installer's command line as they are, so one is a single http(s) token that iPXE leaves
// alone. iPXE splits a command at whitespace and expands `${name}` anywhere in it (ipxe.org/settings);
// a newline would start a command of its own.

/** Written with a scheme ("ftp://…", "https://…"), as opposed to a path beside the manifest. */
export function hasScheme(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text);
}

/**
 * What is wrong with a download URL for a node, or undefined when it is fine: http or https, with a
 * host, and nothing a script would read as more than one literal word (no whitespace or control
 * characters, no `${`, no quotes or backslashes).
 */
export function downloadUrlProblem(text: string): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https')
    return scheme === undefined
      ? 'is not an http(s) URL'
      : `is a ${scheme}: URL; nodes fetch over http or https only`;
  // eslint-disable-next-line no-control-regex
  const bad = /[\s\x00-\x1f\x7f]/.exec(text);
  if (bad) return `holds ${describeChar(bad[0])}, which would split the boot script's command`;
  if (text.includes('${')) return 'holds "${", which iPXE expands as a setting';
  const quote = /["'\\`]/.exec(text);
  if (quote) return `holds ${quote[0]}, which a boot script would not pass on as it is`;
  let host: string;
  try {
    host = new URL(text).host;
  } catch {
    return 'does not parse as a URL';
  }
  if (host === '') return 'has no host';
  return undefined;
}

function describeChar(c: string): string {
  if (c === ' ') return 'a space';
  if (c === '\n') return 'a newline';
  if (c === '\r') return 'a carriage return';
  if (c === '\t') return 'a tab';
  return `the control character U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
}
