// Redfish on Node's own HTTP(S) client. Nothing is assumed about a BMC's resource IDs: the driver
// follows `@odata.id` links from the service root to the one computer system it manages. It logs in
// with a session (X-Auth-Token, deleted on close) and falls back to Basic auth where the BMC has no
// SessionService; it PATCHes with the resource's ETag and reads every write back, because some BMCs
// answer 200 and keep (or revert to) the old value.
//
// A BMC's replies are not trusted: every URL it names (`@odata.id`, action targets, task and session
// Locations, redirects) must be on the BMC's own origin, or nothing is sent and the node fails; a
// reply body is read up to a bound; every request and every command has a deadline.
import * as http from 'node:http';
import * as https from 'node:https';
import type { BmcCredentials } from './credentials.js';
import {
  BmcError,
  type BmcErrorKind,
  type BootDevice,
  type PowerDriver,
  type PowerState,
  type PowerStatus,
} from './driver.js';
import { printable } from './printable.js';
import { sleep } from './sleep.js';

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
  /** Per request, from connecting to the last byte of the body; default 15 s. */
  readonly requestTimeoutMs?: number;
  /**
   * Per command, every request, retry and wait in it: default 60 s for status, and 60 s plus twice
   * powerTimeoutMs for a power action or a boot override (a task, then the read-back).
   */
  readonly commandTimeoutMs?: number;
  /** Longest reply body read (default 4 MiB); a longer one is that node's error. */
  readonly maxBodyBytes?: number;
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

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Same-origin redirects followed per request (http to https and a trailing slash need one each). */
const MAX_REDIRECTS = 3;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Why a command's own deadline aborted it (as opposed to the run's signal). */
class CommandDeadline extends Error {}

/** How the driver authenticates its requests once logged in. */
interface Auth {
  /** `Basic …`, or a session token. */
  readonly header: string;
  /** The session's URL on the BMC, to delete it on close. */
  readonly session?: string;
}

/** Why a request failed, for the retry decision and the user. */
class RequestFailure extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly hint?: string,
    readonly kind: BmcErrorKind = 'failed',
  ) {
    super(message);
  }
}

/** A value the BMC sent, quoted short and printable for a message. */
function said(value: unknown): string {
  return printable(
    typeof value === 'string' ? JSON.stringify(printable(value, 80)) : String(JSON.stringify(value)),
    100,
  );
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
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
  /** The BMC's origin (scheme, host, port): the only place a request, and so a credential, goes. */
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private auth: Auth | undefined;
  private systemUrl: string | undefined;

  constructor(private readonly o: RedfishOptions) {
    const scheme = o.scheme ?? 'https';
    const host = o.address.includes(':') ? `[${o.address}]` : o.address;
    this.base = new URL(`${scheme}://${host}:${o.port ?? (scheme === 'https' ? 443 : 80)}`);
    this.agent =
      scheme === 'https'
        ? new https.Agent({ keepAlive: true, maxSockets: 2, rejectUnauthorized: !o.insecureTls })
        : new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.sleep = o.sleep ?? sleep;
  }

  async status(signal?: AbortSignal): Promise<PowerStatus> {
    try {
      return await this.command('status', 0, signal, async (s) => {
        const { body } = await this.system(s);
        const power = powerOf(body.PowerState);
        const bootNext = bootOf(body.Boot as Json | undefined);
        const model = [body.Manufacturer, body.Model].filter((v) => typeof v === 'string').join(' ');
        const shown = printable(model, 80).trim();
        return {
          power,
          ...(bootNext ? { bootNext } : {}),
          ...(power === 'unknown' ? { reason: `PowerState reads ${said(body.PowerState)}` } : {}),
          ...(shown ? { model: shown } : {}),
        };
      });
    } catch (err) {
      if (err instanceof BmcError) return { power: 'unknown', reason: this.reason(err) };
      throw err;
    }
  }

  on(signal?: AbortSignal): Promise<void> {
    return this.command('power on', this.actionMs(), signal, (s) => this.power('on', s));
  }

  off(signal?: AbortSignal): Promise<void> {
    return this.command('power off', this.actionMs(), signal, (s) => this.power('off', s));
  }

  cycle(signal?: AbortSignal): Promise<void> {
    return this.command('power cycle', this.actionMs(), signal, (s) => this.power('cycle', s));
  }

  bootNext(device: BootDevice, signal?: AbortSignal): Promise<void> {
    return this.command(`boot-next ${device}`, this.actionMs(), signal, (s) => this.override(device, s));
  }

  async close(): Promise<void> {
    const auth = this.auth;
    this.auth = undefined;
    if (auth?.session) {
      try {
        // With its token: a DELETE without it is refused, and the session stays open on the BMC.
        await this.once('DELETE', auth.session, undefined, {}, undefined, auth);
      } catch {
        // The session expires on the BMC by itself.
      }
    }
    this.agent.destroy();
  }

  // -------------------------------------------------------------------------------------------

  /** Extra time a power action or boot override gets over a status: a task to follow, a state to read back. */
  private actionMs(): number {
    return 2 * (this.o.powerTimeoutMs ?? 120_000);
  }

  /**
   * Runs one command under its own deadline (and the run's signal): a BMC that answers slowly, or
   * a byte at a time, fails its node in bounded time instead of holding the command.
   */
  private async command<T>(
    what: string,
    extraMs: number,
    signal: AbortSignal | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const ms = (this.o.commandTimeoutMs ?? 60_000) + extraMs;
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new CommandDeadline()), ms);
    try {
      return await run(controller.signal);
    } catch (err) {
      if (controller.signal.reason instanceof CommandDeadline)
        throw this.error(
          `${what} did not finish within ${seconds(ms)}`,
          'the BMC answers too slowly or not at all; check it, or try again',
          'deadline',
        );
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async override(device: BootDevice, signal: AbortSignal): Promise<void> {
    const target = TARGET[device];
    let sys = await this.system(signal);
    const allowed = (sys.body.Boot as Json | undefined)?.['BootSourceOverrideTarget@Redfish.AllowableValues'];
    if (Array.isArray(allowed) && !allowed.includes(target))
      throw this.error(`the BMC offers no ${target} boot override (it allows ${said(allowed)})`);
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
        `the BMC offers none of ${RESET_PREFERENCE[kind].join(', ')} (it allows ${said(allowed)})`,
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
          `accepted ResetType ${type} but PowerState still reads ${said(last)} after ${seconds(this.o.powerTimeoutMs ?? 120_000)}`,
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
        throw this.error(`task ${said(monitor)} ended ${said(state)}: ${this.describe(r)}`);
      if (Date.now() > deadline) throw this.error(`task ${said(monitor)} did not finish (${said(state)})`);
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
          `the BMC's Systems collection ${said(systems)} has ${urls.length} members; civostack drives BMCs of exactly one system`,
        );
      this.systemUrl = urls[0]!;
    }
    const r = await this.send('GET', this.systemUrl, undefined, {}, signal);
    if (r.status >= 400) throw this.error(`GET ${said(this.systemUrl)}: ${this.describe(r)}`);
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
        const location = r.headers.location;
        // The session's URL gets the token on close: a foreign one fails the login here instead.
        const session = location ? this.resolve(location, 'named its session at').href : undefined;
        this.auth = { header: token, ...(session ? { session } : {}) };
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
      'auth',
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
        const r = await this.once(method, path, body, headers, signal, anonymous ? undefined : this.auth);
        if (r.status < 500) return r;
        failure = new RequestFailure(`${method} ${said(path)}: ${this.describe(r)}`, true);
      } catch (err) {
        if (!(err instanceof RequestFailure)) throw err;
        failure = err;
      }
      if (!failure.retry || i >= attempts) throw this.error(failure.message, failure.hint, failure.kind);
      await this.sleep((this.o.retryDelayMs ?? 500) * 2 ** (i - 1), signal);
    }
  }

  /**
   * One request on the BMC's origin, following up to MAX_REDIRECTS redirects on that origin; a URL
   * or redirect elsewhere is refused before anything (a credential above all) is sent there.
   */
  private async once(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    auth: Auth | undefined,
  ): Promise<Reply> {
    let url = this.resolve(path, 'linked to');
    let payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    for (let hops = 0; ; hops++) {
      const r = await this.exchange(method, url, payload, headers, signal, auth);
      const location = r.headers.location;
      if (!REDIRECTS.has(r.status) || location === undefined) return r;
      if (hops >= MAX_REDIRECTS)
        throw this.error(
          `${method} ${said(path)}: more than ${MAX_REDIRECTS} redirects`,
          'a BMC redirects once at most (to HTTPS, or to add a slash); check its firmware',
          'redirect',
        );
      url = this.resolve(location, 'redirected to');
      // As browsers do: a 303, or a 301/302 of a POST, is followed by a GET without the body.
      if (r.status === 303 || ((r.status === 301 || r.status === 302) && method === 'POST')) {
        method = 'GET';
        payload = undefined;
      }
    }
  }

  /** `path` (relative or absolute, as the BMC names it) on the BMC's origin, or the node's error. */
  private resolve(path: string, how: string): URL {
    let url: URL;
    try {
      url = new URL(path, this.base);
    } catch {
      throw this.error(`the BMC ${how} ${said(path)}, which is not a URL`);
    }
    if (url.origin !== this.base.origin)
      throw this.error(
        `the BMC ${how} ${said(url.href)}, off its own origin ${this.base.origin}: nothing was sent there`,
        'a BMC names only its own resources; check its firmware, and what answers at its address',
        'foreign-url',
      );
    return url;
  }

  /** One HTTP exchange with the BMC: bounded in time (the whole of it) and in body size. */
  private exchange(
    method: string,
    url: URL,
    payload: Buffer | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    auth: Auth | undefined,
  ): Promise<Reply> {
    const shown = `${method} ${said(url.pathname)}`;
    const max = this.o.maxBodyBytes ?? MAX_BODY_BYTES;
    const ms = this.o.requestTimeoutMs ?? 15_000;
    const credential: Record<string, string> = !auth
      ? {}
      : auth.header.startsWith('Basic ')
        ? { Authorization: auth.header }
        : { 'X-Auth-Token': auth.header };
    const client = this.base.protocol === 'https:' ? https : http;
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      let req: http.ClientRequest | undefined;
      const settle = (done: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        done();
      };
      const fail = (failure: RequestFailure) => {
        settle(() => reject(signal?.aborted ? signal.reason : failure));
        req?.destroy();
      };
      const tooLarge = new RequestFailure(
        `${shown}: the BMC's answer is longer than ${max} bytes; civostack reads no more`,
        false,
        'a Redfish resource is a few KiB; check what answers at the BMC address',
        'too-large',
      );
      const timer = setTimeout(
        () =>
          fail(
            new RequestFailure(
              `${shown}: no complete answer within ${seconds(ms)}`,
              true,
              undefined,
              'deadline',
            ),
          ),
        ms,
      );
      try {
        req = client.request(
          {
            protocol: this.base.protocol,
            hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
            port: this.base.port,
            // Only the path and query of what the BMC named: host, port and any user:password in it
            // were checked against, or are no part of, the BMC's own origin.
            path: `${url.pathname}${url.search}`,
            method,
            agent: this.agent,
            ...(signal ? { signal } : {}),
            headers: {
              Accept: 'application/json',
              'OData-Version': '4.0',
              ...(payload
                ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) }
                : {}),
              ...credential,
              ...headers,
            },
          },
          (res) => {
            res.on('error', (e) =>
              fail(new RequestFailure(`${shown}: ${e.message}`, true, undefined, 'unreachable')),
            );
            if (Number(res.headers['content-length']) > max) return fail(tooLarge);
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > max) fail(tooLarge);
              else chunks.push(c);
            });
            res.on('end', () =>
              settle(() =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parse(chunks) }),
              ),
            );
          },
        );
      } catch (err) {
        // A header Node refuses to send (a token or ETag with characters no header may hold).
        return fail(
          new RequestFailure(
            `${shown}: the BMC sent a value no HTTP header may carry (${(err as Error).message})`,
            false,
          ),
        );
      }
      req.on('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? '';
        if (TLS_CODES.has(code))
          return fail(
            new RequestFailure(
              `TLS: ${this.base.origin} presented a certificate that cannot be verified (${code})`,
              false,
              'give the BMC a certificate this host trusts, or set bmc.insecureTls: true for it in the manifest',
              'tls',
            ),
          );
        fail(
          new RequestFailure(
            `cannot reach ${this.base.origin}: ${code || e.message}`,
            RETRIED_CODES.has(code) || e.message === 'socket hang up',
            undefined,
            'unreachable',
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
    return `HTTP ${r.status}${text ? ` (${printable(text)})` : ''}`;
  }

  private error(message: string, hint?: string, kind?: BmcErrorKind): BmcError {
    return new BmcError(this.o.node, `Redfish ${this.o.address}: ${message}`, hint, kind);
  }

  private reason(err: BmcError): string {
    return err.message.startsWith(`${this.o.node}: `)
      ? err.message.slice(this.o.node.length + 2)
      : err.message;
  }
}

/** A reply body as JSON; anything else (an HTML error page, truncated JSON) is an empty object. */
function parse(chunks: readonly Buffer[]): Json {
  try {
    const text = Buffer.concat(chunks).toString('utf8');
    const parsed: unknown = text ? JSON.parse(text) : {};
    return parsed && typeof parsed === 'object' ? (parsed as Json) : {};
  } catch {
    // Not JSON: the status says enough.
    return {};
  }
}
