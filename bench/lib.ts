/**
 * What every part of the benchmark shares: a small HTTP client with a cookie jar (node:http, so that
 * each simulated browser can have its own loopback source address), the OpenID Connect flows that
 * mint codes and tokens, the load runners (autocannon and a bounded-concurrency loop), statistics,
 * and the plumbing that runs a server in a child process.
 *
 * Every request goes to a loopback address: see assertLoopback.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonRequest } from 'autocannon';
import { parseForms, storeSetCookies } from '../test/helpers/browser.ts';
import { freePort } from '../test/helpers/net.ts';

export { freePort };

// ---------------------------------------------------------------------------------------------
// HTTP

const LOOPBACK_HOST = /^(127(\.\d{1,3}){3}|localhost|\[::1\])$/;

/** The benchmark only ever talks to servers on this machine. */
export function assertLoopback(url: string | URL): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || !LOOPBACK_HOST.test(parsed.hostname)) {
    throw new Error(`refusing a non-loopback URL: ${parsed.origin}`);
  }
  return parsed;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' } as const;
export const basicAuth = (user: string, password: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(password)}`).toString('base64')}`;
export const snippet = (text: string, length = 160) => text.replace(/\s+/g, ' ').slice(0, length);

let addressCounter = 0;
/**
 * A fresh loopback source address (127.1.x.y) for one simulated browser: real sign-ins come from
 * many addresses, and Gatehouse's per-address limits (failures only) then never come into play.
 * Linux routes all of 127.0.0.0/8 to the loopback interface.
 */
export function nextLoopbackAddress(): string {
  const n = addressCounter++;
  return `127.1.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`;
}

/** A browser reduced to a cookie jar and a keep-alive connection from one source address. */
export class HttpSession {
  readonly cookies = new Map<string, string>();
  readonly agent: http.Agent;
  readonly localAddress: string | undefined;

  constructor(localAddress?: string, maxSockets = 4) {
    this.localAddress = localAddress;
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(url: string, init: RequestInit = {}): Promise<HttpResult> {
    const target = assertLoopback(url);
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    return new Promise((resolve, reject) => {
      const options: http.RequestOptions = { method: init.method ?? 'GET', headers, agent: this.agent };
      if (this.localAddress) options.localAddress = this.localAddress;
      const req = http.request(target, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          this.storeCookies(res.headers['set-cookie'] ?? []);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`timed out: ${init.method ?? 'GET'} ${target.pathname}`)));
      req.on('error', reject);
      req.end(init.body);
    });
  }

  private storeCookies(setCookies: string[]): void {
    storeSetCookies(this.cookies, setCookies);
  }

  /** Follows redirects with GET until one points at `stopAt` (not fetched) or a non-redirect comes back. */
  async follow(url: string, stopAt: string, init: RequestInit = {}): Promise<{ url: string; response?: HttpResult }> {
    let response = await this.request(url, init);
    let current = url;
    for (let hops = 0; hops < 10; hops++) {
      const location = response.headers.location;
      if (response.status < 300 || response.status >= 400 || !location) return { url: current, response };
      current = new URL(location, current).href;
      if (current.startsWith(stopAt)) return { url: current };
      response = await this.request(current);
    }
    throw new Error('too many redirects');
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect client flows, the same against Gatehouse and the reference provider

/** What a benchmark server tells the orchestrator once it listens. */
export interface TargetInfo {
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  username: string;
  password: string;
  scope: string;
  /** People with an authenticator app (Gatehouse only), each usable once per TOTP step: the "password + TOTP" row. */
  totpUsers?: { username: string; secret: string }[];
  /**
   * Several nodes behind one issuer: the origins autocannon spreads its connections over (round
   * robin, connection by connection). Unset, everything goes to the issuer's origin.
   */
  origins?: string[];
}

export interface Target extends TargetInfo {
  /** The server process's CPU time so far (ms, all threads). */
  cpuMs: () => Promise<number>;
  origin: string;
  basic: string;
  endpoints: { discovery: string; authorization: string; token: string; userinfo: string; introspection: string; jwks: string };
}

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

/** Reads the discovery document, so that each server is driven through the endpoints it announces. */
export async function connectTarget(server: ChildServer): Promise<Target> {
  const { info } = server;
  const discovery = `${info.issuer}/.well-known/openid-configuration`;
  const session = new HttpSession();
  try {
    const response = await session.request(discovery);
    if (response.status !== 200) throw new Error(`${info.name}: discovery answered ${response.status}`);
    const doc = JSON.parse(response.body) as Record<string, string>;
    const endpoint = (name: string) => {
      const value = doc[name];
      if (!value) throw new Error(`${info.name}: discovery has no ${name}`);
      return assertLoopback(value).href;
    };
    return {
      ...info,
      cpuMs: () => server.cpuMs(),
      origin: new URL(info.issuer).origin,
      basic: basicAuth(info.clientId, info.clientSecret),
      endpoints: {
        discovery,
        authorization: endpoint('authorization_endpoint'),
        token: endpoint('token_endpoint'),
        userinfo: endpoint('userinfo_endpoint'),
        introspection: endpoint('introspection_endpoint'),
        jwks: endpoint('jwks_uri'),
      },
    };
  } finally {
    session.close();
  }
}

export function authorizeUrl(target: Target, extra: Record<string, string> = {}): string {
  const url = new URL(target.endpoints.authorization);
  const params = {
    client_id: target.clientId,
    redirect_uri: target.redirectUri,
    response_type: 'code',
    scope: target.scope,
    state: randomBytes(12).toString('base64url'),
    nonce: randomBytes(12).toString('base64url'),
    ...extra,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

function codeFrom(callback: string): string {
  const url = new URL(callback);
  const code = url.searchParams.get('code');
  if (code) return code;
  throw new Error(`no code in the callback: error=${url.searchParams.get('error')} ${url.searchParams.get('error_description') ?? ''}`);
}

/**
 * A person signing in with the browser: the authorization request, then the server's HTML forms
 * (the password form gets the credentials, any other single form — the identifier step — is
 * submitted with the username filled in), until the
 * redirect back to the app. Returns the authorization code and how many forms were submitted.
 */
export async function browserSignIn(
  target: Target,
  session: HttpSession,
  extra: Record<string, string> = {},
  person: { username: string; password: string; totpCode?: () => string } = { username: target.username, password: target.password },
): Promise<{ code: string; forms: number }> {
  let step = await session.follow(authorizeUrl(target, extra), target.redirectUri);
  for (let forms = 0; forms < 4; forms++) {
    if (!step.response) return { code: codeFrom(step.url), forms };
    const { status, body: html } = step.response;
    if (status !== 200) throw new Error(`sign-in: ${status} at ${new URL(step.url).pathname}: ${snippet(html)}`);
    const all = parseForms(html);
    // The password form, else the second factor's, else the identifier step (the one asking for the username: a passkey form sits beside it).
    const form =
      all.find((f) => f.fields.some((field) => field.name === 'password')) ??
      (person.totpCode ? all.find((f) => f.fields.some((field) => field.name === 'code')) : undefined) ??
      all.find((f) => f.fields.some((field) => field.name === 'username' || field.name === 'login')) ??
      (all.length === 1 ? all[0] : undefined);
    if (!form) throw new Error(`sign-in: no form to submit at ${new URL(step.url).pathname}: ${snippet(html)}`);
    const body = new URLSearchParams();
    for (const field of form.fields) {
      const value =
        field.name === 'password'
          ? person.password
          : field.name === 'username' || field.name === 'login'
            ? person.username
            : field.name === 'code' && person.totpCode
              ? person.totpCode()
              : field.value;
      body.set(field.name, value);
    }
    step = await session.follow(new URL(form.action, step.url).href, target.redirectUri, { method: form.method.toUpperCase(), headers: FORM, body: body.toString() });
  }
  throw new Error(`sign-in did not finish${step.response ? `: ${snippet(step.response.body.replace(/^[\s\S]*<main>/, ''), 300)}` : ''}`);
}

/** Form bodies of the two token requests (also what autocannon sends). */
export const codeGrantBody = (target: Target, code: string) =>
  new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: target.redirectUri }).toString();
export const refreshGrantBody = (refreshToken: string) => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();

async function tokenRequest(target: Target, session: HttpSession, body: string): Promise<TokenResponse> {
  const response = await session.request(target.endpoints.token, { method: 'POST', headers: { ...FORM, authorization: target.basic }, body });
  if (response.status !== 200) throw new Error(`token endpoint: ${response.status} ${snippet(response.body)}`);
  const tokens = JSON.parse(response.body) as TokenResponse;
  if (!tokens.access_token) throw new Error('token endpoint: no access_token');
  return tokens;
}

export const exchangeCode = (target: Target, session: HttpSession, code: string) => tokenRequest(target, session, codeGrantBody(target, code));
export const refreshGrant = (target: Target, session: HttpSession, refreshToken: string) => tokenRequest(target, session, refreshGrantBody(refreshToken));

/** Runs fn(index, worker) for index 0..n-1 with `workers` in flight. */
export async function mapConcurrent<T>(n: number, workers: number, fn: (index: number, worker: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, n) }, async (_, worker) => {
      while (next < n) {
        const index = next++;
        results[index] = await fn(index, worker);
      }
    }),
  );
  return results;
}

/**
 * Mints single-use credentials ahead of a timed window: a few signed-in browser sessions ask for
 * codes without showing a page (an existing session and grant), and codes become tokens.
 */
export class Minter {
  readonly target: Target;
  readonly workers: number;
  /** Times a session had to sign in again to go on minting (it should stay 0). */
  renewals = 0;
  private readonly sessions: HttpSession[] = [];

  constructor(target: Target, workers = 8) {
    this.target = target;
    this.workers = workers;
  }

  async open(): Promise<void> {
    for (let i = 0; i < this.workers; i++) {
      const session = new HttpSession(nextLoopbackAddress());
      const { code } = await browserSignIn(this.target, session);
      await exchangeCode(this.target, session, code);
      this.sessions.push(session);
    }
  }

  private session(worker: number): HttpSession {
    const session = this.sessions[worker % this.sessions.length];
    if (!session) throw new Error('Minter.open() first');
    return session;
  }

  async code(worker: number): Promise<string> {
    const session = this.session(worker);
    // A signed-in session and an existing grant: the code comes straight back, no page.
    const step = await session.follow(authorizeUrl(this.target, { prompt: 'none' }), this.target.redirectUri);
    if (!step.response && new URL(step.url).searchParams.has('code')) return codeFrom(step.url);
    // The session is gone (it should not be): sign in again on it, which also yields a code.
    this.renewals++;
    return (await browserSignIn(this.target, session)).code;
  }

  codes(n: number): Promise<string[]> {
    return mapConcurrent(n, this.workers, (_, worker) => this.code(worker));
  }

  tokens(n: number): Promise<TokenResponse[]> {
    return mapConcurrent(n, this.workers, async (_, worker) => exchangeCode(this.target, this.session(worker), await this.code(worker)));
  }

  close(): void {
    for (const session of this.sessions) session.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement

/** Latencies of the answered requests (ms), and what went wrong, by kind. */
export interface Sample {
  latencies: number[];
  ok: number;
  failed: number;
  failures: Map<string, number>;
  elapsedMs: number;
  /** CPU time the server spent meanwhile, when measured. */
  cpuMs?: number;
  /** CPU time of other processes on the machine meanwhile, and the wall time that covers. */
  otherCpuMs?: number;
  meteredMs?: number;
  /** CPU time this process, the load generator, used meanwhile (when the server is another process). */
  loadCpuMs?: number;
  /** When it was metered: [start, end] in µs of the monotonic clock V8's CPU profiles use (profile-compare.ts). */
  windows?: Array<[number, number]>;
}

export const emptySample = (): Sample => ({ latencies: [], ok: 0, failed: 0, failures: new Map(), elapsedMs: 0 });

/** Two measurements of the same row as one: requests, time and CPU add up. */
export function mergeSamples(a: Sample, b: Sample): Sample {
  const failures = new Map(a.failures);
  for (const [label, count] of b.failures) failures.set(label, (failures.get(label) ?? 0) + count);
  const add = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : x + y);
  const cpuMs = add(a.cpuMs, b.cpuMs);
  const otherCpuMs = add(a.otherCpuMs, b.otherCpuMs);
  const meteredMs = add(a.meteredMs, b.meteredMs);
  const loadCpuMs = add(a.loadCpuMs, b.loadCpuMs);
  const windows = [...(a.windows ?? []), ...(b.windows ?? [])];
  return {
    latencies: a.latencies.concat(b.latencies),
    ok: a.ok + b.ok,
    failed: a.failed + b.failed,
    failures,
    elapsedMs: a.elapsedMs + b.elapsedMs,
    ...(cpuMs === undefined ? {} : { cpuMs }),
    ...(otherCpuMs === undefined ? {} : { otherCpuMs }),
    ...(meteredMs === undefined ? {} : { meteredMs }),
    ...(loadCpuMs === undefined ? {} : { loadCpuMs }),
    ...(windows.length ? { windows } : {}),
  };
}

/** Now, in µs of the monotonic clock (CLOCK_MONOTONIC on Linux) that V8 stamps CPU profile samples with. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/** CPU time every process on the machine has used so far (ms), from /proc/stat; undefined elsewhere. */
export function machineCpuMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal (guest time is already in user); USER_HZ = 100.
    const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (fields[i] ?? 0), 0);
    return busy * 10;
  } catch {
    return undefined;
  }
}

const ownCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/**
 * Runs `work` and books on its sample the server's CPU time and the CPU time that processes other
 * than the server and this one used meanwhile (other sessions' work on a shared machine).
 */
export async function metered(cpu: (() => Promise<number>) | undefined, work: () => Promise<Sample>, serverIsThisProcess = false): Promise<Sample> {
  if (!cpu) return work();
  const started = performance.now();
  const machine0 = machineCpuMs();
  const own0 = ownCpuMs();
  const server0 = await cpu();
  const windowStart = monotonicMicros();
  const sample = await work();
  sample.windows = [[windowStart, monotonicMicros()]];
  sample.cpuMs = (await cpu()) - server0;
  const own = ownCpuMs() - own0;
  if (!serverIsThisProcess) sample.loadCpuMs = own;
  const machine1 = machineCpuMs();
  if (machine0 !== undefined && machine1 !== undefined) {
    sample.otherCpuMs = Math.max(0, machine1 - machine0 - (serverIsThisProcess ? own : own + sample.cpuMs));
    sample.meteredMs = performance.now() - started;
  }
  return sample;
}

function recordFailure(sample: Sample, label: string, count = 1): void {
  sample.failed += count;
  sample.failures.set(label, (sample.failures.get(label) ?? 0) + count);
}

function mergeInto(total: Sample, part: Sample): void {
  for (const latency of part.latencies) total.latencies.push(latency);
  total.ok += part.ok;
  for (const [label, count] of part.failures) recordFailure(total, label, count);
  total.elapsedMs += part.elapsedMs;
  if (part.cpuMs !== undefined) total.cpuMs = (total.cpuMs ?? 0) + part.cpuMs;
  if (part.otherCpuMs !== undefined) total.otherCpuMs = (total.otherCpuMs ?? 0) + part.otherCpuMs;
  if (part.meteredMs !== undefined) total.meteredMs = (total.meteredMs ?? 0) + part.meteredMs;
  if (part.loadCpuMs !== undefined) total.loadCpuMs = (total.loadCpuMs ?? 0) + part.loadCpuMs;
  if (part.windows) total.windows = [...(total.windows ?? []), ...part.windows];
}

export interface RowResult {
  requests: number;
  /** Successful requests per second of measured time. */
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  failures: string[];
  seconds: number;
  /** Server CPU milliseconds per request, when measured. */
  cpuPerRequest?: number;
  /** Share of the machine's CPUs that other processes used meanwhile (0-1), when measured. */
  otherLoad?: number;
  /** The load generator's (this process's) CPU milliseconds per request, when measured. */
  loadCpuPerRequest?: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function summarize(sample: Sample): RowResult {
  const sorted = [...sample.latencies].sort((a, b) => a - b);
  const seconds = sample.elapsedMs / 1000;
  return {
    requests: sample.ok + sample.failed,
    rps: seconds > 0 ? sample.ok / seconds : 0,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    failed: sample.failed,
    failures: [...sample.failures].map(([label, count]) => `${count}× ${label}`),
    seconds,
    ...(sample.cpuMs === undefined || sample.ok + sample.failed === 0 ? {} : { cpuPerRequest: sample.cpuMs / (sample.ok + sample.failed) }),
    ...(sample.otherCpuMs === undefined || !sample.meteredMs ? {} : { otherLoad: sample.otherCpuMs / (sample.meteredMs * availableParallelism()) }),
    ...(sample.loadCpuMs === undefined || sample.ok + sample.failed === 0 ? {} : { loadCpuPerRequest: sample.loadCpuMs / (sample.ok + sample.failed) }),
  };
}

/** undefined when the response is what the row expects, else a short label for the failure. */
export type Check = (status: number, body: string) => string | undefined;

export const expect200 =
  (mustContain: string): Check =>
  (status, body) => {
    if (status !== 200) return `HTTP ${status}: ${snippet(body, 100)}`;
    if (!body.includes(mustContain)) return `200 without ${mustContain}: ${snippet(body, 100)}`;
    return undefined;
  };

export interface LoadSpec {
  /** Absolute URL of the endpoint. */
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Per-request parts (a fresh code, token...); called once for every request sent. */
  next?: () => { body?: string; headers?: Record<string, string> };
  check: Check;
  connections: number;
  durationMs?: number;
  amount?: number;
  /** Spread the connections over these origins (several nodes) instead of the url's own; the path stays the url's. */
  origins?: string[] | undefined;
  /** The server's CPU clock, to book its CPU time per request. */
  cpu?: () => Promise<number>;
}

/** One autocannon run. Elapsed time runs from the start to the last response. */
export function runAutocannon(spec: LoadSpec): Promise<Sample> {
  return metered(spec.cpu, () => autocannonOnce(spec));
}

function autocannonOnce(spec: LoadSpec): Promise<Sample> {
  const url = assertLoopback(spec.url);
  const sample = emptySample();
  const started = performance.now();
  let last = started;
  const request: AutocannonRequest = {
    method: spec.method,
    path: url.pathname + url.search,
    headers: { ...spec.headers },
    ...(spec.body === undefined ? {} : { body: spec.body }),
    onResponse: (status, body) => {
      const failure = spec.check(status, body);
      if (failure) recordFailure(sample, failure);
      else sample.ok++;
    },
  };
  const next = spec.next;
  if (next) {
    request.setupRequest = (req) => {
      const part = next();
      return { ...req, ...(part.body === undefined ? {} : { body: part.body }), headers: { ...req.headers, ...part.headers } };
    };
  }
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.origins?.length ? spec.origins.map((origin) => assertLoopback(origin).origin) : url.origin,
        connections: spec.amount ? Math.min(spec.connections, spec.amount) : spec.connections,
        sampleInt: 100,
        timeout: 10,
        requests: [request],
        ...(spec.amount ? { amount: spec.amount } : { duration: (spec.durationMs ?? 5000) / 1000 }),
      },
      (error, result) => {
        if (error) return reject(error);
        const lost = result.errors;
        if (lost) recordFailure(sample, `no response (${result.timeouts} timeouts, ${lost - result.timeouts} connection errors)`, lost);
        sample.elapsedMs = last - started;
        resolve(sample);
      },
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
      sample.latencies.push(responseTime);
      last = performance.now();
    });
  });
}

export interface SingleUseSpec<T> extends Omit<LoadSpec, 'next' | 'amount' | 'durationMs'> {
  durationMs: number;
  batch: number;
  mint: (n: number) => Promise<T[]>;
  use: (item: T) => { body?: string; headers?: Record<string, string> };
}

/**
 * Single-use credentials (codes, rotating refresh tokens) are minted before each timed batch and
 * each request consumes one. Batches repeat until the timed windows add up to the duration; the
 * first, smaller batch only warms up.
 */
export async function runSingleUse<T>(spec: SingleUseSpec<T>): Promise<Sample> {
  const batchRun = async (size: number, timed: boolean) => {
    const items = await spec.mint(size);
    let index = 0;
    const { mint: _mint, use, batch: _batch, cpu, ...load } = spec;
    return runAutocannon({
      ...(timed && cpu ? { cpu } : {}),
      ...load,
      amount: items.length,
      next: () => {
        const item = items[index++];
        // Can't happen while each request takes one item and amount = items.length; if it did, the
        // request goes out without a credential and fails visibly.
        return item === undefined ? { body: 'ran_out_of_pre-minted_credentials' } : use(item);
      },
    });
  };
  await batchRun(Math.min(spec.batch, 100), false);
  const total = emptySample();
  const deadline = performance.now() + Math.max(spec.durationMs * 8, 30_000);
  while (total.elapsedMs < spec.durationMs && performance.now() < deadline) mergeInto(total, await batchRun(spec.batch, true));
  return total;
}

/** A plain timed autocannon run after a one-second warm-up. */
export async function runTimed(spec: LoadSpec & { durationMs: number }): Promise<Sample> {
  const { cpu: _cpu, ...warmUp } = spec;
  await runAutocannon({ ...warmUp, durationMs: Math.min(1000, spec.durationMs) });
  return runAutocannon(spec);
}

/**
 * A custom load loop: `concurrency` workers repeat `task` until the duration is over or `signal`
 * aborts; the latency of a task is recorded as one request.
 */
export function runLoop(options: {
  concurrency: number;
  durationMs: number;
  signal?: AbortSignal;
  /** The CPU clock of the process doing the work; `ownCpu` when that is this process. */
  cpu?: () => Promise<number>;
  ownCpu?: boolean;
  task: () => Promise<void>;
}): Promise<Sample> {
  return metered(options.cpu, () => loopOnce(options), options.ownCpu);
}

async function loopOnce(options: { concurrency: number; durationMs: number; signal?: AbortSignal; task: () => Promise<void> }): Promise<Sample> {
  const sample = emptySample();
  const started = performance.now();
  let last = started;
  const done = () => performance.now() - started >= options.durationMs || options.signal?.aborted === true;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (!done()) {
        const t0 = performance.now();
        try {
          await options.task();
          sample.ok++;
        } catch (error) {
          recordFailure(sample, snippet(error instanceof Error ? error.message : String(error), 140));
        }
        last = performance.now();
        sample.latencies.push(last - t0);
      }
    }),
  );
  sample.elapsedMs = last - started;
  return sample;
}

/**
 * An open-loop load at a steady rate: task i starts at i/rate seconds whether or not earlier ones
 * have finished, and its latency counts from when it was due (so a stall shows in full).
 */
export async function runPaced(options: { ratePerSecond: number; count: number; task: (index: number) => Promise<void> }): Promise<Sample> {
  const sample = emptySample();
  const interval = 1000 / options.ratePerSecond;
  const started = performance.now();
  let last = started;
  const inFlight: Promise<void>[] = [];
  for (let index = 0; index < options.count; index++) {
    const due = started + index * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      (async () => {
        try {
          await options.task(index);
          sample.ok++;
        } catch (error) {
          recordFailure(sample, snippet(error instanceof Error ? error.message : String(error), 140));
        }
        last = performance.now();
        sample.latencies.push(last - due);
      })(),
    );
  }
  await Promise.all(inFlight);
  sample.elapsedMs = last - started;
  return sample;
}

// ---------------------------------------------------------------------------------------------
// Servers in child processes: the server under test gets a core of its own, the load generator the other

type ChildMessage = { type: 'ready'; info: TargetInfo } | { type: 'error'; message: string } | { type: 'cpu'; ms: number };

export interface ChildServer {
  info: TargetInfo;
  pid: number | undefined;
  /** The child's CPU time so far (user + system, all threads), in ms. */
  cpuMs(): Promise<number>;
  close(): Promise<void>;
}


/** Forks `module` with `args`; resolves once it reports ready. Its stderr is kept and shown only if it fails. */
export function startChild(module: URL, args: string[], options: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<ChildServer> {
  const child: ChildProcess = fork(fileURLToPath(module), args, {
    execArgv: options.execArgv ?? [],
    env: options.env ?? process.env,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let cpuWaiters: Array<(ms: number) => void> = [];
  return new Promise((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'cpu') {
        const waiters = cpuWaiters;
        cpuWaiters = [];
        for (const waiter of waiters) waiter(message.ms);
        return;
      }
      if (message.type === 'error') {
        reject(new Error(`${args.join(' ')}: ${message.message}\n${stderr}`));
        return;
      }
      resolve({
        info: message.info,
        pid: child.pid,
        cpuMs: () =>
          new Promise<number>((resolveCpu) => {
            cpuWaiters.push(resolveCpu);
            child.send({ type: 'cpu' });
          }),
        async close() {
          if (child.exitCode === null) child.send({ type: 'close' });
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          const code = await exited;
          clearTimeout(timer);
          process.off('exit', killOnExit);
          if (code !== 0) process.stderr.write(`${args.join(' ')} exited with ${code}:\n${stderr}\n`);
        },
      });
    });
    exited.then((code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${stderr}`)));
  });
}

/** The child side: start the server, report, and shut it down when told to (or when the parent goes). */
export async function serveInChild(start: () => Promise<{ info: TargetInfo; /** May resolve to an exit status. */ close(): Promise<unknown>; cpuMs?: () => number }>): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('this module is started by bench/run.ts');
  let server: Awaited<ReturnType<typeof start>>;
  try {
    server = await start();
  } catch (error) {
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    // close() may ask for another exit status: the parent then shows this process's stderr.
    let status = 0;
    try {
      const result = await server.close();
      if (typeof result === 'number') status = result;
    } finally {
      process.exit(status);
    }
  };
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'close') void shutdown();
    if (message.type === 'cpu') {
      // A server of several processes counts them all itself; else this process is the server.
      const usage = process.cpuUsage();
      send({ type: 'cpu', ms: server.cpuMs ? server.cpuMs() : (usage.user + usage.system) / 1000 });
    }
  });
  process.on('disconnect', () => void shutdown());
  send({ type: 'ready', info: server.info });
}

/** Share of the machine's CPUs busy over `ms` (undefined where /proc/stat is missing). */
export async function machineBusy(ms: number): Promise<number | undefined> {
  const before = machineCpuMs();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineCpuMs();
  if (before === undefined || after === undefined) return undefined;
  return (after - before) / ((performance.now() - started) * availableParallelism());
}

// ---------------------------------------------------------------------------------------------
// Output

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const formatMs = (value: number) => (Number.isFinite(value) ? (value < 10 ? value.toFixed(2) : value.toFixed(1)) : '–');

/** A Markdown table with padded columns, readable in a terminal too. */
export function markdownTable(header: string[], rows: string[][], alignRight: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (alignRight[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (alignRight[i] ? `${'-'.repeat(Math.max(1, w - 1))}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
