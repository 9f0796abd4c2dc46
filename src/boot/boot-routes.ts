// The boot server's routes: one small handler per path, each turning the request into one call on
// the core (boot-core.ts) and handing back its answer. A path no route takes is a 404.
import type { Mac } from '../manifest/index.js';
import type { Answer, BootCore, FileReply, Reply } from './boot-core.js';
import { TOKEN_HEADER } from './install-tokens.js';

/** What a handler may read of a request: no socket, no response. */
export interface RouteRequest {
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client's address (nginx's X-Real-IP when the request came through the front). */
  readonly from: string;
  /** The body as text, bounded in size; refused with 413 past the bound. */
  body(): Promise<string>;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  /** Matched against the whole path; its groups are the handler's arguments. */
  readonly path: RegExp;
  handle(core: BootCore, req: RouteRequest, args: readonly string[]): Promise<Answer<Reply | FileReply>>;
}

const NODE = '/nodes/([a-z0-9][a-z0-9._-]*)';
const header = (req: RouteRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};
const asker = (req: RouteRequest) => ({
  mac: req.query.get('mac'),
  from: req.from,
  token: header(req, TOKEN_HEADER),
});

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: /^\/ipxe\/boot\.ipxe$/, handle: async (core) => core.bootScript() },
  {
    method: 'GET',
    path: /^\/ipxe\/([0-9a-f]{2}(?:-[0-9a-f]{2}){5})\.ipxe$/,
    handle: async (core, req, [hy]) => core.nodeScript(hy!.replaceAll('-', ':') as Mac, req.from),
  },
  {
    method: 'GET',
    path: /^\/installer\/([^/]+)$/,
    handle: async (core, _, [name]) => core.installerFile(name!),
  },
  { method: 'GET', path: /^\/images\/([^/]+)$/, handle: async (core, _, [name]) => core.image(name!) },
  {
    method: 'GET',
    path: new RegExp(`^${NODE}/install\\.env$`),
    handle: async (core, req, [node]) => core.installEnv(node!, asker(req)),
  },
  {
    method: 'GET',
    path: new RegExp(`^${NODE}/seed/(meta-data|user-data|network-config)$`),
    handle: async (core, req, [node, file]) => core.seed(node!, file!, asker(req)),
  },
  {
    method: 'POST',
    path: new RegExp(`^${NODE}/progress$`),
    handle: async (core, req, [node]) => {
      const form = new URLSearchParams(await req.body());
      return core.progress(node!, asker(req), {
        state: form.get('state'),
        percent: form.get('percent'),
        message: form.get('message'),
      });
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^${NODE}/hostkeys$`),
    handle: async (core, req, [node]) => core.hostKeys(node!, asker(req), await req.body()),
  },
  {
    method: 'GET',
    path: /^\/ztp\/([a-z0-9][a-z0-9._-]*)\/(ztp\.json|config_db\.json)$/,
    handle: async (core, req, [sw, file]) => core.ztp(sw!, file!, req.from),
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/nodes$/,
    handle: async (core, req) => core.nodes(header(req, 'authorization')),
  },
];

/** The route for `method` and `path`, with its arguments; HEAD takes a GET route. */
export function findRoute(method: string, path: string): { route: Route; args: string[] } | undefined {
  const as = method === 'HEAD' ? 'GET' : method;
  for (const route of ROUTES) {
    if (route.method !== as) continue;
    const m = route.path.exec(path);
    if (m) return { route, args: m.slice(1) };
  }
  return undefined;
}
