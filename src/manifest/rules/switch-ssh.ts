// Switch SSH access (`racks[].switches[].ssh`): an address that parses, and a host key file that
// exists. What the key file holds is read when a switch is reached (src/live/targets.ts).
import { checkIp } from './formats.js';
import type { Rule } from './context.js';

export const switchSsh: Rule = (ctx) => {
  ctx.manifest.racks.forEach((rack, r) =>
    rack.switches.forEach((sw, s) => {
      if (sw.ssh === undefined) return;
      const at = ['racks', r, 'switches', s, 'ssh'];
      if (sw.ssh.address !== undefined) checkIp(ctx, [...at, 'address'], sw.ssh.address);
      if (sw.ssh.hostKeyFile !== undefined)
        ctx.needFile([...at, 'hostKeyFile'], sw.ssh.hostKeyFile, 'public-keys');
    }),
  );
};
