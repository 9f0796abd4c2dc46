// Reading the nginx front's iPXE log: every line once, in order, across a move-aside and reopen
// (the writer here stands in for nginx: it appends, and reopens the path when asked).
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIpxeLogLine, tailIpxeLog, type IpxeFetch } from '../../src/boot/ipxe-log.js';
import { tempDir } from '../helpers/manifest.js';

const until = async (check: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !check() && Date.now() < end;)
    await new Promise((r) => setTimeout(r, 20));
};

describe('iPXE log', () => {
  it('parses what nginx writes and nothing else', () => {
    expect(parseIpxeLogLine('10.100.0.11 200 /ipxe/52-54-00-aa-00-02.ipxe')).toEqual({
      from: '10.100.0.11',
      status: 200,
      path: '/ipxe/52-54-00-aa-00-02.ipxe',
    });
    expect(parseIpxeLogLine('10.100.0.11 200')).toBeUndefined();
    expect(parseIpxeLogLine('')).toBeUndefined();
  });

  it('hands over every line once, in order, across the move-aside past 16 MiB', async () => {
    const path = join(tempDir(), 'ipxe.log');
    const got: IpxeFetch[] = [];
    let reopened = 0;
    let fd = -1;
    const tail = tailIpxeLog(
      path,
      // As nginx on SIGUSR1: its master creates the new file at once; its workers go on writing to
      // the old one for a moment (here 150 ms) before they reopen too.
      () => {
        closeSync(openSync(path, 'a'));
        setTimeout(() => {
          reopened++;
          const old = fd;
          fd = openSync(path, 'a');
          closeSync(old);
        }, 150);
      },
      (f) => got.push(f),
    );
    fd = openSync(path, 'a');
    const line = (i: number) => `10.0.0.${i % 250} 200 /ipxe/${String(i).padStart(8, '0')}.ipxe\n`;
    const total = 700_000; // ~25 MiB, in buffered writes as nginx's
    for (let i = 0; i < total;) {
      let batch = '';
      for (const end = Math.min(total, i + 25_000); i < end; i++) batch += line(i);
      writeSync(fd, batch);
      await new Promise((r) => setTimeout(r, 60));
    }
    await until(() => got.length >= total && reopened > 0);
    tail.close();
    closeSync(fd);
    expect(reopened).toBe(1);
    expect(got.length).toBe(total);
    expect(got.every((f, i) => f.path === `/ipxe/${String(i).padStart(8, '0')}.ipxe`)).toBe(true);
    expect(existsSync(`${path}.old`)).toBe(false);
  });
});
