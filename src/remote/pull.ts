// Large artifacts pulled by the node from the boot server over HTTP, checked by sha256: 10 MB to
// 200 hosts in 73 s against 107 s pushed through SSH (2.1× at 50; bench/remote.bench.mjs), because
// the bootstrap host then only copies bytes instead of encrypting every node's stream in one process.
import type { Host, UploadOptions, UploadResult } from './host.js';
import { transfer } from './upload.js';

export interface PullSource {
  /** Where the node fetches it: the boot server on the provisioning network. */
  readonly url: string;
  readonly sha256: string;
  readonly bytes: number;
}

// curl, else wget, else Python (cloud-init brings python3 to every node image).
const FETCH = [
  'set -eu',
  'p=$1; d=$(dirname -- "$p"); mkdir -p -- "$d"',
  't=$(mktemp "$d/.civostack-pull.XXXXXX")',
  'trap \'rm -f -- "$t"\' EXIT',
  'if command -v curl >/dev/null; then curl -fsS --retry 3 -o "$t" "$2"',
  'elif command -v wget >/dev/null; then wget -q -O "$t" "$2"',
  'else python3 -c \'import shutil,sys,urllib.request; shutil.copyfileobj(urllib.request.urlopen(sys.argv[1]), open(sys.argv[2], "wb"))\' "$2" "$t"; fi',
  'got=$(sha256sum < "$t"); got=${got%% *}',
  '[ "$got" = "$3" ] || { echo "sha256 mismatch: $2 gave $got, expected $3" >&2; exit 3; }',
  'chmod "$4" "$t"',
  'sync -- "$t" 2>/dev/null || true',
  'mv -f -- "$t" "$p"',
  'trap - EXIT',
].join('\n');

/** Like Host.upload (skipped when sha256 and mode match; atomic), but the node fetches the bytes. */
export function pull(
  host: Pick<Host, 'exec' | 'name'>,
  path: string,
  source: PullSource,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const file = { path, sha256: source.sha256, bytes: source.bytes };
  return transfer(host, file, options, (common, mode) =>
    host.exec(['sh', '-c', FETCH, 'sh', path, source.url, source.sha256, mode], {
      ...common,
      logAs: `pull ${path} from ${source.url} (sha256 ${source.sha256.slice(0, 12)}…, mode ${mode})`,
    }),
  );
}
