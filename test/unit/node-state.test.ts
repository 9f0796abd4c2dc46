import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  describeState,
  initialState,
  parseDnsmasqLine,
  parseRange,
  type NodeEvent,
  type NodeState,
} from '../../src/boot/index.js';

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
