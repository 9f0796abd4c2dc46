import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  describeState,
  initialState,
  NodeStore,
  parseDnsmasqLine,
  readNodeHistory,
  parseRange,
  type NodeEvent,
  type NodeState,
} from '../../src/boot/index.js';
import type { StateDir } from '../../src/state/index.js';
import { tempDir } from '../helpers/manifest.js';

const t = '2026-01-01T00:00:00.000Z';
const run = (events: NodeEvent[], from: NodeState = initialState(t)) =>
  events.reduce((s, e) => applyEvent(s, e, t), from);

describe('node states', () => {
  it('walks pending → dhcp → ipxe → installing → installed → booted-from-disk → ssh-ready', () => {
    const seen: string[] = [];
    let s = initialState(t);
    for (const e of [
      { kind: 'dhcp', mac: 'm', address: 'a' },
      { kind: 'ipxe', mac: 'm', address: 'a' },
      { kind: 'progress', state: 'installing', percent: 40 },
      { kind: 'progress', state: 'installed' },
      { kind: 'dhcp', mac: 'm', address: 'a' },
      { kind: 'ipxe', mac: 'm', address: 'a' },
      { kind: 'ssh-ready' },
    ] as NodeEvent[]) {
      s = applyEvent(s, e, t);
      seen.push(describeState(s));
    }
    expect(seen).toEqual([
      'dhcp',
      'ipxe',
      'installing 40%',
      'installed',
      'installed',
      'booted-from-disk',
      'ssh-ready',
    ]);
  });

  it('does not undo an install when the node asks for an address again', () => {
    const s = run([
      { kind: 'progress', state: 'installed' },
      { kind: 'dhcp', mac: 'm', address: 'a' },
    ]);
    expect(s.state).toBe('installed');
  });

  it('keeps the failure message and clamps percentages', () => {
    expect(run([{ kind: 'progress', state: 'installing', percent: 250 }]).percent).toBe(100);
    const failed = run([{ kind: 'progress', state: 'failed', message: 'image checksum mismatch' }]);
    expect(describeState(failed)).toBe('failed: image checksum mismatch');
  });
});

describe('dnsmasq log lines', () => {
  it('reads leases, ignored MACs (proxy-DHCP too) and TFTP sends', () => {
    expect(parseDnsmasqLine('dnsmasq-dhcp[812]: DHCPACK(br0) 10.100.0.10 52:54:00:aa:00:01 r01-n01')).toEqual(
      {
        kind: 'ack',
        address: '10.100.0.10',
        mac: '52:54:00:aa:00:01',
        host: 'r01-n01',
      },
    );
    expect(parseDnsmasqLine('dnsmasq-dhcp[812]: DHCPDISCOVER(vs) 52:54:00:ff:00:01 ignored')).toEqual({
      kind: 'ignored',
      mac: '52:54:00:ff:00:01',
    });
    expect(
      parseDnsmasqLine('dnsmasq-dhcp[812]: 2703958847 PXE(br0) 52:54:00:ff:00:09 proxy-ignored'),
    ).toEqual({
      kind: 'ignored',
      mac: '52:54:00:ff:00:09',
    });
    expect(parseDnsmasqLine('dnsmasq-tftp[812]: sent /tmp/t/ipxe.efi to 10.100.0.10')).toEqual({
      kind: 'tftp',
      file: '/tmp/t/ipxe.efi',
      to: '10.100.0.10',
    });
    expect(parseDnsmasqLine('dnsmasq[812]: started, version 2.90').kind).toBe('log');
  });
});

describe('HTTP ranges', () => {
  it.each([
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=90-', { start: 90, end: 99 }],
    ['bytes=-5', { start: 95, end: 99 }],
    ['bytes=50-500', { start: 50, end: 99 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=5-1', 'unsatisfiable'],
    ['bytes=0-1,5-6', undefined],
    ['items=0-1', undefined],
  ])('%s of 100 bytes', (header, expected) => expect(parseRange(header, 100)).toEqual(expected));
});

describe('node store history', () => {
  it('appends one line per state change, from every store writing the same folder, and none for progress alone', () => {
    const state: StateDir = { path: tempDir() };
    let clock = 0;
    const tick = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++));
    const a = new NodeStore(state, ['n1', 'n2'], tick);
    a.apply('n1', { kind: 'dhcp', mac: '52:54:00:00:00:01', address: '10.0.0.10' });
    a.apply('n1', { kind: 'ipxe', mac: '52:54:00:00:00:01', address: '10.0.0.10' });
    a.apply('n1', { kind: 'progress', state: 'installing', percent: 10 });
    a.apply('n1', { kind: 'progress', state: 'installing', percent: 60 });
    a.apply('n1', { kind: 'progress', state: 'installed' });
    // Another process (the lab) marks the node ready through its own store.
    new NodeStore(state, ['n1', 'n2'], tick).apply('n1', { kind: 'ssh-ready' });
    a.apply('n2', { kind: 'dhcp', mac: '52:54:00:00:00:02', address: '10.0.0.11' });
    const h = readNodeHistory(state);
    expect(h.map((t) => `${t.node}:${t.from ?? '-'}→${t.to}`)).toEqual([
      'n1:pending→dhcp',
      'n1:dhcp→ipxe',
      'n1:ipxe→installing',
      'n1:installing→installed',
      'n1:installed→ssh-ready',
      'n2:pending→dhcp',
    ]);
    expect(h[0]!.at < h[5]!.at).toBe(true);
  });
});
