// What region up's phases hand on to later ones, each under the id of the phase that makes it. A
// phase not selected (--only, --from) hands nothing on, and the readers say what they do then.
import type { RunningBootService } from './context.js';
import { outputKey } from './phase.js';

/** prepare: allocations and secrets are recorded in the state folder. */
export const COMMITTED = outputKey<true>('prepare');
/** boot-service: the boot service this run started and supervises until it ends. */
export const BOOT_SERVICE = outputKey<RunningBootService>('boot-service');
/** power: when each node was powered on (or asked to be), for its install timeout. */
export const POWERED_AT = outputKey<ReadonlyMap<string, number>>('power');
/** fabric: render paths a switch runs as rendered (frr.conf; SONiC's config_db.json), for record-applied. */
export const SWITCH_FILES_IN_SYNC = outputKey<ReadonlySet<string>>('fabric');
