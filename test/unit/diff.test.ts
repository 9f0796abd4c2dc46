// The diff stage on small trees: which files changed and how, which device each belongs to, how
// secrets are hidden, and the text and JSON a user reads. The CLI's region diff against real
// renders is test/integration/diff.test.ts.
import { describe, expect, it } from 'vitest';
import { changesJson, deviceOfPath, diffTrees, formatChanges, redact } from '../../src/diff/index.js';
import type { FileTree } from '../../src/render/index.js';

function tree(files: Record<string, [device: string, content: string]>): FileTree {
  return new Map(
    Object.entries(files).map(([path, [device, content]]) => [
      path,
      { device, content, mode: 0o644, secrets: [] },
    ]),
  );
}

describe('redact', () => {
  it('replaces every occurrence of each secret value of 4 characters or more, and no shorter one', () => {
    expect(redact('a=s3cr b=s3cr c=abc', ['s3cr', 'abc'])).toBe('a=<redacted> b=<redacted> c=abc');
  });

  it('masks BGP passwords and kubeadm/k3s tokens by pattern, at the start of a line only', () => {
    const text = [
      ' neighbor 10.0.0.1 password old-one',
      'neighbor PEER  password\tother',
      'neighbor  10.0.0.2 password  spaced',
      'description neighbor x password y',
      'token: abc.def',
      '  agent-token :xyz',
      'my-token: kept',
    ].join('\n');
    expect(redact(text, [])).toBe(
      [
        ' neighbor 10.0.0.1 password <redacted>',
        'neighbor PEER  password\t<redacted>',
        'neighbor  10.0.0.2 password  <redacted>',
        'description neighbor x password y',
        'token: <redacted>',
        '  agent-token :<redacted>',
        'my-token: kept',
      ].join('\n'),
    );
  });

  it('keeps "(would be generated)" readable where a value would be', () => {
    const text = 'neighbor 10.0.0.1 password (would be generated)\ntoken: (would be generated)';
    expect(redact(text, [])).toBe(text);
  });

  it('hides each private key block on its own, keeping what lies between them', () => {
    const key = (kind: string) =>
      `-----BEGIN ${kind}PRIVATE KEY-----\nAAAA\nBBBB\n-----END ${kind}PRIVATE KEY-----`;
    const text = `${key('OPENSSH ')}\nbetween\n${key('')}\nafter`;
    expect(redact(text, [])).toBe('<redacted>\nbetween\n<redacted>\nafter');
  });
});

describe('deviceOfPath', () => {
  const owners = new Map([['52-54-00-00-00-01', 'r01-n01']]);
  it.each([
    ['nodes/r01-n01/user-data', 'r01-n01'],
    ['switches/r01-tor1/frr.conf', 'r01-tor1'],
    ['boot/ipxe/52-54-00-00-00-01.ipxe', 'r01-n01'],
    ['boot/ipxe/52-54-00-00-00-99.ipxe', 'boot'],
    ['boot/dnsmasq.conf', 'boot'],
    ['boot/ipxe', 'boot'],
    ['boot/menu/52-54-00-00-00-01.ipxe', 'boot'],
    ['kube/ipxe/52-54-00-00-00-01.ipxe', 'kube'],
    ['nodes', 'nodes'],
    ['kube/kubeadm.yaml', 'kube'],
  ])('gives %s to %s', (path, device) => {
    expect(deviceOfPath(path, owners)).toBe(device);
  });
});

describe('diffTrees', () => {
  const baseline = new Map([
    ['boot/dnsmasq.conf', 'port=0\n'],
    ['nodes/r01-n01/user-data', 'a\nb\nc\n'],
    ['switches/old/frr.conf', 'gone\nnow\n'],
    ['switches/r01-tor1/frr.conf', 'same\n'],
  ]);
  const next = tree({
    'boot/dnsmasq.conf': ['boot', 'port=0\n'],
    'nodes/r01-n01/user-data': ['r01-n01', 'a\nB\nc\nd\n'],
    // The renderer's device wins over the path's: an iPXE script belongs to its node.
    'boot/ipxe/52-54-00-00-00-02.ipxe': ['r01-n02', 'new\n'],
    'switches/r01-tor1/frr.conf': ['r01-tor1', 'same\n'],
  });

  it('lists added, removed and modified files in path order, with their devices and line counts', () => {
    const changes = diffTrees(baseline, next, []);
    expect(changes.map((c) => [c.path, c.device, c.change, c.added, c.removed])).toEqual([
      ['boot/ipxe/52-54-00-00-00-02.ipxe', 'r01-n02', 'added', 1, 0],
      ['nodes/r01-n01/user-data', 'r01-n01', 'modified', 2, 1],
      ['switches/old/frr.conf', 'old', 'removed', 0, 2],
    ]);
    expect(changes[1]!.hunks).toEqual([{ header: '@@ -1,3 +1,4 @@', lines: [' a', '-b', '+B', ' c', '+d'] }]);
    expect(changes[0]!.hunks).toEqual([{ header: '@@ -1,0 +1,1 @@', lines: ['+new'] }]);
    expect(changes[2]!.hunks).toEqual([{ header: '@@ -1,2 +1,0 @@', lines: ['-gone', '-now'] }]);
  });

  it('finds nothing between a tree and itself', () => {
    expect(diffTrees(new Map([...next].map(([p, f]) => [p, f.content])), next, [])).toEqual([]);
  });

  it('redacts both sides, and shows a change hidden entirely by redaction as a secret change', () => {
    const before = new Map([['kube/keepalived.conf', 'auth_pass oldpass1\nvrid 51\n']]);
    const after = tree({ 'kube/keepalived.conf': ['kube', 'auth_pass newpass2\nvrid 52\n'] });
    const [shown] = diffTrees(before, after, ['oldpass1', 'newpass2']);
    expect(shown!.hunks[0]!.lines).toEqual([' auth_pass <redacted>', '-vrid 51', '+vrid 52']);
    const rotated = tree({ 'kube/keepalived.conf': ['kube', 'auth_pass newpass2\nvrid 51\n'] });
    const [hidden] = diffTrees(before, rotated, ['oldpass1', 'newpass2']);
    expect(hidden).toMatchObject({ change: 'modified', added: 0, removed: 0 });
    expect(hidden!.hunks).toEqual([{ header: '@@ secret changed @@', lines: ['~<redacted>'] }]);
  });
});

describe('formatChanges and changesJson', () => {
  const changes = diffTrees(
    new Map([
      ['nodes/r01-n01/user-data', 'a\nb\n'],
      ['switches/old/frr.conf', 'gone\n'],
    ]),
    tree({
      'nodes/r01-n01/user-data': ['r01-n01', 'a\nc\n'],
      'nodes/r01-n01/meta-data': ['r01-n01', 'id\n'],
      'boot/dnsmasq.conf': ['boot', 'x\n'],
    }),
    [],
  );

  it('says there is nothing to change when nothing does', () => {
    expect(formatChanges([], false)).toBe('No changes: every device is as rendered.');
    expect(changesJson([])).toEqual({ changed: false, changes: [] });
  });

  it('groups unified diffs by device in name order, marks new and removed files, and counts', () => {
    expect(formatChanges(changes, false)).toBe(
      [
        '=== boot (1 file)',
        '--- a/boot/dnsmasq.conf (new)',
        '+++ b/boot/dnsmasq.conf',
        '@@ -1,0 +1,1 @@',
        '+x',
        '',
        '=== old (1 file)',
        '--- a/switches/old/frr.conf',
        '+++ b/switches/old/frr.conf (removed)',
        '@@ -1,1 +1,0 @@',
        '-gone',
        '',
        '=== r01-n01 (2 files)',
        '--- a/nodes/r01-n01/meta-data (new)',
        '+++ b/nodes/r01-n01/meta-data',
        '@@ -1,0 +1,1 @@',
        '+id',
        '--- a/nodes/r01-n01/user-data',
        '+++ b/nodes/r01-n01/user-data',
        '@@ -1,2 +1,2 @@',
        ' a',
        '-b',
        '+c',
        '',
        '4 files on 3 devices would change.',
      ].join('\n'),
    );
  });

  it('says "1 file on 1 device" in the singular', () => {
    expect(formatChanges(changes.slice(0, 1), false).split('\n').at(-1)).toBe(
      '1 file on 1 device would change.',
    );
  });

  it('colours headers, hunks, additions and removals for a terminal only', () => {
    const lines = formatChanges(changes, true).split('\n');
    expect(lines[0]).toBe('\u001b[1m=== boot (1 file)\u001b[0m');
    expect(lines[1]).toBe('\u001b[1m--- a/boot/dnsmasq.conf (new)\u001b[0m');
    expect(lines[2]).toBe('\u001b[1m+++ b/boot/dnsmasq.conf\u001b[0m');
    expect(lines[3]).toBe('\u001b[36m@@ -1,0 +1,1 @@\u001b[0m');
    expect(lines[4]).toBe('\u001b[32m+x\u001b[0m');
    expect(lines[10]).toBe('\u001b[31m-gone\u001b[0m');
    expect(lines[20]).toBe(' a');
  });

  it('gives JSON each change with its patch', () => {
    expect(changesJson(changes)).toEqual({
      changed: true,
      changes: [
        {
          device: 'boot',
          path: 'boot/dnsmasq.conf',
          change: 'added',
          added: 1,
          removed: 0,
          patch: '@@ -1,0 +1,1 @@\n+x',
        },
        {
          device: 'r01-n01',
          path: 'nodes/r01-n01/meta-data',
          change: 'added',
          added: 1,
          removed: 0,
          patch: '@@ -1,0 +1,1 @@\n+id',
        },
        {
          device: 'r01-n01',
          path: 'nodes/r01-n01/user-data',
          change: 'modified',
          added: 1,
          removed: 1,
          patch: '@@ -1,2 +1,2 @@\n a\n-b\n+c',
        },
        {
          device: 'old',
          path: 'switches/old/frr.conf',
          change: 'removed',
          added: 0,
          removed: 1,
          patch: '@@ -1,1 +1,0 @@\n-gone',
        },
      ],
    });
  });
});
