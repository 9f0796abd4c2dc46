// Where the cluster's admin kubeconfig lives: the state folder, 0600, its server the API VIP.
import { join } from 'node:path';

/** `<state>/kubernetes/admin.conf` (0600): the cluster's admin kubeconfig, server at the API VIP. */
export function kubeconfigPath(statePath: string): string {
  return join(statePath, 'kubernetes', 'admin.conf');
}
