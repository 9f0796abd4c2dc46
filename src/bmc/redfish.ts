// Redfish on Node's own HTTP(S) client. Nothing is assumed about a BMC's resource IDs: the driver
// follows `@odata.id` links from the service root to the one computer system it manages. It logs in
// with a session (X-Auth-Token, deleted on close) and falls back to Basic auth where the BMC has no
// SessionService; it PATCHes with the resource's ETag and reads every write back, because some BMCs
// answer 200 and keep (or revert to) the old value.
import * as http from 'node:http';
import * as https from 'node:https';
import type { BmcCredentials } from './credentials.js';
import { BmcError, type BootDevice, type PowerDriver, type PowerState, type PowerStatus } from './driver.js';

export interface RedfishOptions {
  readonly node: string;
  readonly address: string;
  /** HTTPS port; 443 by default. */
  readonly port?: number;
  /** Read lazily, at the first request: a bad file is that node's error, not the whole command's. */
  readonly credentials: () => BmcCredentials;
  /** Accept a certificate that cannot be verified (self-signed). Only where the manifest says so. */
  readonly insecureTls?: boolean;
  /** Tests only: a plain-HTTP fake. */
  readonly scheme?: 'https' | 'http';
  /** Attempts per request on 5xx answers and connection errors (default 4), with doubling delays. */
  readonly attempts?: number;
  readonly retryDelayMs?: number;
  /** Per request; default 15 s. */
  readonly requestTimeoutMs?: number;
  /** How long a power action may take to read back (default 120 s), polled every pollMs (default 1 s). */
  readonly powerTimeoutMs?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Json;
}

// A loose view of Redfish JSON: every field is looked up and checked where it is used.
interface Json {
  readonly [key: string]: unknown;
}

const RETRIED_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Reset types in order of preference for each power action (DMTF ResetType). */
const RESET_PREFERENCE = {
  on: ['On', 'ForceOn', 'PushPowerButton'],
  off: ['ForceOff', 'GracefulShutdown', 'PushPowerButton'],
  cycle: ['ForceRestart', 'PowerCycle', 'GracefulRestart'],
} as const;

const TARGET: Record<BootDevice, string> = { pxe: 'Pxe', disk: 'Hdd' };

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Why a request failed, for the retry decision and the user. */
class RequestFailure extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly hint?: string,
  ) {
    super(message);
  }
}

function link(obj: unknown, ...path: string[]): string | undefined {
  let v: unknown = obj;
  for (const p of path) v = (v as Json | undefined)?.[p];
  const id = (v as Json | undefined)?.['@odata.id'];
  return typeof id === 'string' ? id : undefined;
}

function powerOf(value: unknown): PowerState {
  if (value === 'On' || value === 'PoweringOn') return 'on';
  if (value === 'Off' || value === 'PoweringOff') return 'off';
  return 'unknown';
}

function bootOf(boot: Json | undefined): PowerStatus['bootNext'] {
  if (!boot) return undefined;
  if (boot.BootSourceOverrideEnabled === 'Disabled') return 'none';
  if (boot.BootSourceOverrideTarget === 'Pxe') return 'pxe';
  if (boot.BootSourceOverrideTarget === 'Hdd') return 'disk';
  if (boot.BootSourceOverrideTarget === 'None') return 'none';
  return undefined;
}

export class RedfishDriver implements PowerDriver {
  readonly protocol = 'redfish' as const;
  private readonly base: string;
  private readonly agent: http.Agent;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private auth: { header: string; session?: string } | undefined;
  private systemUrl: string | undefined;

  constructor(private readonly o: RedfishOptions) {
    const scheme = o.scheme ?? 'https';
    this.base = `${scheme}://${o.address}:${o.port ?? (scheme === 'https' ? 443 : 80)}`;
    this.agent =
      scheme === 'https'
        ? new https.Agent({ keepAlive: true, maxSockets: 2, rejectUnauthorized: !o.insecureTls })
        : new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.sleep = o.sleep ?? defaultSleep;
  }

  async status(signal?: AbortSignal): Promise<PowerStatus> {
    try {
      const { body } = await this.system(signal);
      const power = powerOf(body.PowerState);
      const bootNext = bootOf(body.Boot as Json | undefined);
      return {
        power,
        ...(bootNext ? { bootNext } : {}),
        ...(power === 'unknown' ? { reason: `PowerState reads ${JSON.stringify(body.PowerState)}` } : {}),
      };
    } catch (err) {
      if (err instanceof BmcError) return { power: 'unknown', reason: this.reason(err) };
      throw err;
    }
  }

  on(signal?: AbortSignal): Promise<void> {
    return this.power('on', signal);
  }

  off(signal?: AbortSignal): Promise<void> {
    return this.power('off', signal);
  }

  cycle(signal?: AbortSignal): Promise<void> {
    return this.power('cycle', signal);
  }

  async bootNext(device: BootDevice, signal?: AbortSignal): Promise<void> {
    const target = TARGET[device];
    let sys = await this.system(signal);
    const allowed = (sys.body.Boot as Json | undefined)?.['BootSourceOverrideTarget@Redfish.AllowableValues'];
    if (Array.isArray(allowed) && !allowed.includes(target))
      throw this.error(`the BMC offers no ${target} boot override (it allows ${allowed.join(', ')})`);
    const body = { Boot: { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: 'Once' } };
    for (let attempt = 1; ; attempt++) {
      const r = await this.send('PATCH', sys.url, body, sys.etag ? { 'If-Match': sys.etag } : {}, signal);
      // 412: the system changed since we read it; read it again for a fresh ETag.
      if (r.status === 412 && attempt < 3) {
        sys = await this.system(signal);
        continue;
      }
      if (r.status >= 400) throw this.error(`refused the boot override: ${this.describe(r)}`);
      if (r.status === 202) await this.task(r, signal);
      const back = bootOf((await this.system(signal)).body.Boot as Json | undefined);
      if (back === device) return;
      if (attempt >= 2)
        throw this.error(
          `accepted the boot override ${target} but reads back ${back ?? 'something else'}`,
          'the BMC reverted the change; check its firmware, or set the boot device by hand',
        );
      sys = await this.system(signal);
    }
  }

  async close(): Promise<void> {
    const session = this.auth?.session;
    this.auth = undefined;
    if (session) {
      try {
        await this.once('DELETE', session, undefined, {}, undefined, true);
      } catch {
        // The session expires on the BMC by itself.
      }
    }
    this.agent.destroy();
  }

  // -------------------------------------------------------------------------------------------

  private async power(kind: 'on' | 'off' | 'cycle', signal?: AbortSignal): Promise<void> {
    const sys = await this.system(signal);
    const now = powerOf(sys.body.PowerState);
    if (kind === 'on' && now === 'on') return;
    if (kind === 'off' && now === 'off') return;
    if (kind === 'cycle' && now === 'off') return this.power('on', signal);
    const action = (sys.body.Actions as Json | undefined)?.['#ComputerSystem.Reset'] as Json | undefined;
    const target =
      typeof action?.target === 'string' ? action.target : `${sys.url}/Actions/ComputerSystem.Reset`;
    const allowed = await this.allowedResetTypes(action, signal);
    const type = RESET_PREFERENCE[kind].find((t) => allowed === undefined || allowed.includes(t));
    if (type === undefined) {
      if (kind === 'cycle') {
        await this.power('off', signal);
        return this.power('on', signal);
      }
      throw this.error(
        `the BMC offers none of ${RESET_PREFERENCE[kind].join(', ')} (it allows ${allowed?.join(', ')})`,
      );
    }
    const r = await this.send('POST', target, { ResetType: type }, {}, signal);
    if (r.status >= 400) throw this.error(`refused ResetType ${type}: ${this.describe(r)}`);
    if (r.status === 202) await this.task(r, signal);
    await this.waitPower(kind === 'off' ? 'Off' : 'On', type, signal);
  }

  /** `ResetType@Redfish.AllowableValues`, or the ActionInfo resource's; undefined when the BMC lists none. */
  private async allowedResetTypes(
    action: Json | undefined,
    signal?: AbortSignal,
  ): Promise<string[] | undefined> {
    const inline = action?.['ResetType@Redfish.AllowableValues'];
    if (Array.isArray(inline)) return inline.filter((v): v is string => typeof v === 'string');
    const info = action?.['@Redfish.ActionInfo'];
    if (typeof info !== 'string') return undefined;
    const r = await this.send('GET', info, undefined, {}, signal);
    const params = Array.isArray(r.body.Parameters) ? (r.body.Parameters as Json[]) : [];
    const values = params.find((p) => p.Name === 'ResetType')?.AllowableValues;
    return Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : undefined;
  }

  /** Many BMCs (and sushy-tools) apply a reset seconds after accepting it: read until it shows. */
  private async waitPower(want: 'On' | 'Off', type: string, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + (this.o.powerTimeoutMs ?? 120_000);
    let last: unknown;
    for (;;) {
      last = (await this.system(signal)).body.PowerState;
      if (last === want) return;
      if (Date.now() > deadline)
        throw this.error(
          `accepted ResetType ${type} but PowerState still reads ${JSON.stringify(last)} after ${Math.round((this.o.powerTimeoutMs ?? 120_000) / 1000)} s`,
        );
      await this.sleep(this.o.pollMs ?? 1000, signal);
    }
  }

  /** Follows a 202's task monitor until the task is done. */
  private async task(accepted: Reply, signal?: AbortSignal): Promise<void> {
    const monitor = accepted.headers.location ?? link(accepted.body);
    if (!monitor) return;
    const deadline = Date.now() + (this.o.powerTimeoutMs ?? 120_000);
    for (;;) {
      const r = await this.send('GET', monitor, undefined, {}, signal);
      const state = r.body.TaskState;
      if (r.status !== 202 && (state === undefined || state === 'Completed')) return;
      if (state === 'Exception' || state === 'Killed' || state === 'Cancelled')
        throw this.error(`task ${monitor} ended ${String(state)}: ${this.describe(r)}`);
      if (Date.now() > deadline) throw this.error(`task ${monitor} did not finish (${String(state)})`);
      await this.sleep(this.o.pollMs ?? 1000, signal);
    }
  }

  /** The computer system: discovered once from the service root, read fresh every time. */
  private async system(signal?: AbortSignal): Promise<{ url: string; body: Json; etag: string | undefined }> {
    if (!this.systemUrl) {
      const root = await this.send('GET', '/redfish/v1/', undefined, {}, signal);
      const systems = link(root.body, 'Systems');
      if (!systems) throw this.error('the service root /redfish/v1 has no Systems collection');
      const members = (await this.send('GET', systems, undefined, {}, signal)).body.Members;
      const urls = Array.isArray(members) ? members.map((m) => link({ m }, 'm')).filter(Boolean) : [];
      if (urls.length !== 1)
        throw this.error(
          `the BMC's Systems collection ${systems} has ${urls.length} members; civostack drives BMCs of exactly one system`,
        );
      this.systemUrl = urls[0]!;
    }
    const r = await this.send('GET', this.systemUrl, undefined, {}, signal);
    if (r.status >= 400) throw this.error(`GET ${this.systemUrl}: ${this.describe(r)}`);
    const etag =
      r.headers.etag ?? (typeof r.body['@odata.etag'] === 'string' ? r.body['@odata.etag'] : undefined);
    return { url: this.systemUrl, body: r.body, etag };
  }

  /** Logs in first: a session where the BMC offers one, else Basic auth on every request. */
  private async login(signal?: AbortSignal): Promise<void> {
    const { username, password } = this.o.credentials();
    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const root = await this.retried('GET', '/redfish/v1/', undefined, {}, signal, true);
    const sessions =
      link(root.body, 'Links', 'Sessions') ??
      (link(root.body, 'SessionService') ? '/redfish/v1/SessionService/Sessions' : undefined);
    if (sessions) {
      const r = await this.retried(
        'POST',
        sessions,
        { UserName: username, Password: password },
        {},
        signal,
        true,
      );
      const token = r.headers['x-auth-token'];
      if (r.status < 300 && typeof token === 'string') {
        this.auth = { header: token, ...(r.headers.location ? { session: r.headers.location } : {}) };
        return;
      }
      if (r.status === 401 || r.status === 403) throw this.authError(r.status);
      // 404/405/501 and friends: no usable SessionService; Basic auth it is.
    }
    this.auth = { header: basic };
  }

  private authError(status: number): BmcError {
    return this.error(
      `the BMC refused the credentials (HTTP ${status})`,
      'check the username and password in its credentials file',
    );
  }

  /** One logical request: logged in, retried; a 401 on a session logs in again once. */
  private async send(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Reply> {
    if (!this.auth) await this.login(signal);
    let r = await this.retried(method, path, body, headers, signal);
    if (r.status === 401 && this.auth?.session) {
      this.auth = undefined;
      await this.login(signal);
      r = await this.retried(method, path, body, headers, signal);
    }
    if (r.status === 401 || r.status === 403) throw this.authError(r.status);
    return r;
  }

  private async retried(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    signal?: AbortSignal,
    anonymous = false,
  ): Promise<Reply> {
    const attempts = this.o.attempts ?? 4;
    for (let i = 1; ; i++) {
      let failure: RequestFailure;
      try {
        const r = await this.once(method, path, body, headers, signal, anonymous);
        if (r.status < 500) return r;
        failure = new RequestFailure(`${method} ${path}: ${this.describe(r)}`, true);
      } catch (err) {
        if (!(err instanceof RequestFailure)) throw err;
        failure = err;
      }
      if (!failure.retry || i >= attempts) throw this.error(failure.message, failure.hint);
      await this.sleep((this.o.retryDelayMs ?? 500) * 2 ** (i - 1), signal);
    }
  }

  private once(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    anonymous: boolean,
  ): Promise<Reply> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const auth: Record<string, string> =
      anonymous || !this.auth
        ? {}
        : this.auth.header.startsWith('Basic ')
          ? { Authorization: this.auth.header }
          : { 'X-Auth-Token': this.auth.header };
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<Reply>((resolve, reject) => {
      const req = client.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.o.requestTimeoutMs ?? 15_000,
          ...(signal ? { signal } : {}),
          headers: {
            Accept: 'application/json',
            'OData-Version': '4.0',
            ...(payload
              ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) }
              : {}),
            ...auth,
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new RequestFailure(`${method} ${url.pathname}: ${e.message}`, true)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Json = {};
            try {
              const parsed: unknown = text ? JSON.parse(text) : {};
              if (parsed && typeof parsed === 'object') json = parsed as Json;
            } catch {
              // Not JSON (an HTML error page): the status says enough.
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: json });
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (signal?.aborted) return reject(signal.reason);
        const code = e.code ?? '';
        if (TLS_CODES.has(code))
          return reject(
            new RequestFailure(
              `TLS: ${this.base} presented a certificate that cannot be verified (${code})`,
              false,
              'give the BMC a certificate this host trusts, or set bmc.insecureTls: true for it in the manifest',
            ),
          );
        reject(
          new RequestFailure(
            `cannot reach ${this.base}: ${code || e.message}`,
            RETRIED_CODES.has(code) || e.message === 'socket hang up',
          ),
        );
      });
      req.end(payload);
    });
  }

  private describe(r: Reply): string {
    const ext = (r.body.error as Json | undefined)?.['@Message.ExtendedInfo'];
    const first = Array.isArray(ext) ? (ext[0] as Json | undefined)?.Message : undefined;
    const message = (r.body.error as Json | undefined)?.message;
    const text = typeof first === 'string' ? first : typeof message === 'string' ? message : '';
    return `HTTP ${r.status}${text ? ` (${text})` : ''}`;
  }

  private error(message: string, hint?: string): BmcError {
    return new BmcError(this.o.node, `Redfish ${this.o.address}: ${message}`, hint);
  }

  private reason(err: BmcError): string {
    return err.message.startsWith(`${this.o.node}: `)
      ? err.message.slice(this.o.node.length + 2)
      : err.message;
  }
}
