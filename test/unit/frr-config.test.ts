// The canonical form of an FRR configuration, line for line, on a small config that has each
// thing it normalises: FRR's noise, a default of the profile, spacing, a block printed in two
// places, route-map entries out of order, an empty route-map entry, numbers to sort as numbers.
import { describe, expect, it } from 'vitest';
import { normaliseFrr } from '../../src/diff/index.js';

const RUNNING = [
  'Building configuration...',
  '',
  'Current configuration:',
  '!',
  'frr version 8.4.4',
  'frr defaults traditional',
  'hostname br1   ',
  '!',
  'route-map OUT deny 20',
  ' match ip address prefix-list B',
  'exit',
  'route-map OUT permit 5',
  'exit',
  'route-map IN permit 10',
  'exit',
  'router bgp 65001',
  ' timers bgp 60 180',
  ' neighbor   10.0.0.1 remote-as 65002',
  ' !',
  ' address-family ipv4 unicast',
  '  network 10.1.0.0/24',
  ' exit-address-family',
  'exit',
  'ip prefix-list P seq 10 permit 10.0.0.0/8',
  'ip prefix-list P seq 9 permit 10.9.0.0/16',
  'router bgp 65001',
  ' bgp router-id 10.0.0.9',
  'exit',
  'end',
].join('\n');

describe('normaliseFrr, line for line', () => {
  it('drops the noise and the profile default, sorts plain lines then blocks, numbers as numbers', () => {
    expect(normaliseFrr(RUNNING)).toBe(
      [
        'frr defaults traditional',
        'hostname br1',
        'ip prefix-list P seq 9 permit 10.9.0.0/16',
        'ip prefix-list P seq 10 permit 10.0.0.0/8',
        '!',
        'route-map IN permit 10',
        '!',
        'route-map OUT permit 5',
        '!',
        'route-map OUT deny 20',
        ' match ip address prefix-list B',
        '!',
        'router bgp 65001',
        ' bgp router-id 10.0.0.9',
        ' neighbor 10.0.0.1 remote-as 65002',
        ' address-family ipv4 unicast',
        '  network 10.1.0.0/24',
        '',
      ].join('\n'),
    );
  });

  it('keeps the traditional default under the datacenter profile, and takes traditional when none is named', () => {
    const dc = normaliseFrr(RUNNING.replace('frr defaults traditional', 'frr defaults datacenter'));
    expect(dc).toContain(' timers bgp 60 180\n');
    expect(normaliseFrr(RUNNING.replace('frr defaults traditional\n', ''))).not.toContain('timers bgp');
  });
});
