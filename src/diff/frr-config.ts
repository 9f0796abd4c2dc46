// One canonical text for an FRR configuration, whether it is a rendered frr.conf or what a device's
// `show running-config` prints, so that a device running its render shows no difference. Pure.
//
// FRR prints the running configuration in its own order (router bgp before the prefix-lists, one
// route-map entry per block closed by `exit`), adds its banner, `frr version` and `end`, and leaves
// out lines that equal the defaults of its `frr defaults` profile. Both sides are parsed into
// blocks by indentation, stripped of what carries no configuration, sorted, and printed again.

/** Lines that carry no configuration: FRR's banner, comments, block ends. */
const NOISE = [
  /^Building configuration\.\.\.$/,
  /^Current configuration:$/,
  /^!/,
  /^end$/,
  /^exit$/,
  /^exit-address-family$/,
  /^exit-vrf$/,
  /^exit-vnc$/,
  // The FRR build the device runs, not a setting ("8.4" in a render, "8.4.4" on the device).
  /^frr version /,
];

/**
 * Lines FRR does not print because they are the default of the device's `frr defaults` profile
 * (FRR 8.4's bgpd/bgp_vty.c defaults table): a render that states them and a device that runs
 * them without printing them configure the same thing. Keyed by the block they stand in.
 */
const PROFILE_DEFAULTS: Readonly<Record<string, readonly { block: RegExp; line: RegExp }[]>> = {
  datacenter: [
    { block: /^router bgp /, line: /^bgp log-neighbor-changes$/ },
    { block: /^router bgp /, line: /^timers bgp 3 9$/ },
  ],
  traditional: [{ block: /^router bgp /, line: /^timers bgp 60 180$/ }],
};

/**
 * Top-level lines a device holds that no render writes, and that a reload must keep: settings of
 * the platform under FRR rather than of the region. The fabric lab turns zebra's kernel nexthop
 * groups off (FRR 8.4 loses a multipath nexthop after a link flap with them on, see
 * src/lab/fabric/frr.ts); SONiC programs routes through fpm and leaves them alone.
 */
export const DEVICE_OWNED: readonly RegExp[] = [/^(no )?zebra nexthop kernel enable$/];

/** Headers FRR prints as a block even when nothing is under them (a route-map entry that only permits). */
const BLOCK_HEADER = /^(route-map|router|interface|vrf|key chain|line|bfd|segment-routing) /;

interface Block {
  readonly line: string;
  readonly children: Block[];
}

const isBlock = (b: Block): boolean => b.children.length > 0 || BLOCK_HEADER.test(b.line);

/** Digits compared as numbers, so `seq 5` comes before `seq 10`. */
function natural(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    if (i % 2 === 1) return Number(x) - Number(y) || (x < y ? -1 : 1);
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** `route-map NAME permit|deny SEQ` sorts by name and sequence, whatever the action. */
function sortKey(line: string): string {
  const m = /^route-map (\S+) (permit|deny) (\d+)$/.exec(line);
  return m ? `route-map ${m[1]!} ${m[3]!} ${m[2]!}` : line;
}

function parse(text: string): Block[] {
  const root: Block = { line: '', children: [] };
  // The open block at each indentation depth: a line hangs under the nearest shallower one.
  const stack: { depth: number; block: Block }[] = [{ depth: -1, block: root }];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    const content = line.trimStart();
    if (content === '' || NOISE.some((r) => r.test(content))) continue;
    const depth = line.length - content.length;
    while (stack.length > 1 && stack[stack.length - 1]!.depth >= depth) stack.pop();
    const block: Block = { line: content.replace(/\s+/g, ' '), children: [] };
    stack[stack.length - 1]!.block.children.push(block);
    stack.push({ depth, block });
  }
  return root.children;
}

function profileOf(blocks: readonly Block[]): string {
  const m = blocks.map((b) => /^frr defaults (\S+)$/.exec(b.line)).find((x) => x !== null);
  return m?.[1] ?? 'traditional';
}

/** Merges blocks of the same header (FRR may print one block in two places), drops defaults, sorts. */
function canonical(
  blocks: readonly Block[],
  defaults: readonly { block: RegExp; line: RegExp }[],
  header = '',
): Block[] {
  const merged = new Map<string, Block>();
  for (const b of blocks) {
    if (
      header &&
      defaults.some((d) => d.block.test(header) && d.line.test(b.line) && b.children.length === 0)
    )
      continue;
    const seen = merged.get(b.line);
    if (seen) seen.children.push(...b.children);
    else merged.set(b.line, { line: b.line, children: [...b.children] });
  }
  return [...merged.values()]
    .map((b) => ({
      line: b.line,
      children: canonical(b.children, defaults, header ? `${header} > ${b.line}` : b.line),
    }))
    .sort(
      // Plain lines first, then blocks; each group in natural order.
      (a, b) => Number(isBlock(a)) - Number(isBlock(b)) || natural(sortKey(a.line), sortKey(b.line)),
    );
}

function print(blocks: readonly Block[], depth: number, out: string[]): void {
  for (const b of blocks) {
    out.push(`${' '.repeat(depth)}${b.line}`);
    print(b.children, depth + 1, out);
  }
}

export interface NormaliseOptions {
  /** Drop the device-owned lines (DEVICE_OWNED): what a live diff compares. */
  readonly dropDeviceOwned?: boolean;
}

/**
 * The canonical form of an FRR configuration: the same for a render and for the running
 * configuration of a device that runs it. Top-level lines first (global settings, prefix-lists,
 * access-lists, static routes), then each block (route-map entries, router bgp) with its lines
 * sorted and nested blocks last; `!` between top-level blocks for reading.
 */
export function normaliseFrr(text: string, options: NormaliseOptions = {}): string {
  const parsed = parse(text);
  const blocks = canonical(
    options.dropDeviceOwned
      ? parsed.filter((b) => isBlock(b) || !DEVICE_OWNED.some((r) => r.test(b.line)))
      : parsed,
    PROFILE_DEFAULTS[profileOf(parsed)] ?? [],
  );
  const out: string[] = [];
  const flat = blocks.filter((b) => !isBlock(b));
  print(flat, 0, out);
  for (const b of blocks.filter(isBlock)) {
    out.push('!');
    print([b], 0, out);
  }
  return `${out.join('\n')}\n`;
}

/** The device-owned top-level lines of a running configuration: kept when a render is pushed. */
export function deviceOwnedLines(running: string): string[] {
  return parse(running)
    .filter((b) => !isBlock(b) && DEVICE_OWNED.some((r) => r.test(b.line)))
    .map((b) => b.line);
}
