// A Redfish driver for tests against a plain-HTTP server on 127.0.0.1: short retry and poll delays,
// the given password; anything else as the test says.
import { RedfishDriver, type RedfishOptions } from '../../src/bmc/index.js';

export function redfishDriver(
  port: number,
  password: string,
  extra: Partial<RedfishOptions> = {},
): RedfishDriver {
  return new RedfishDriver({
    node: 'n1',
    address: '127.0.0.1',
    port,
    scheme: 'http',
    credentials: () => ({ username: 'admin', password }),
    retryDelayMs: 1,
    pollMs: 1,
    powerTimeoutMs: 2000,
    ...extra,
  });
}
