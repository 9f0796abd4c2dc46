// Text a BMC or a device wrote (a Redfish Manufacturer, a PowerState, an error message, ipmitool's
// output), made safe to print: a hostile or broken BMC must not move the cursor, rewrite a terminal's
// title, hide a line behind a CR or reorder words with bidi controls in `bmc status` or in an event.

// Whole escape sequences first, so "\x1b[31m" leaves nothing behind rather than "[31m": CSI (ESC [ or
// the one-byte C1 CSI), OSC (ESC ], ended by BEL or ST) and the two-byte ESC forms (ESC c, a full reset, among them). (Control
// characters in these expressions are what they are for.)
// eslint-disable-next-line no-control-regex
const ESCAPES = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-~]/g;
// Line breaks and tabs become one space, so words stay apart on the one line they are given.
const BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
// What is left of C0, DEL, C1, and the bidi embeddings, overrides and isolates (CVE-2021-42574).
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` without control characters, cut to `max` characters (an ellipsis says it was cut). */
export function printable(text: string, max = 200): string {
  const clean = text.replace(ESCAPES, '').replace(BREAKS, ' ').replace(CONTROLS, '');
  if (clean.length <= max) return clean;
  // By code point, so a cut never splits a surrogate pair.
  return `${Array.from(clean)
    .slice(0, max - 1)
    .join('')}…`;
}
