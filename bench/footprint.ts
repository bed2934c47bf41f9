/**
 * The `footprint` section: what one Gatehouse process costs to start and to keep.
 *
 * - Cold start: from spawning `node bin/gatehouse.js serve` (the production start, on SQLite) to
 *   the first 200 of GET /.well-known/openid-configuration, on a data directory that does not exist
 *   yet (migrations, signing key, secret key), then again on the same, existing directory.
 * - Memory with many live sessions: a data directory holding `sessions` live sign-in sessions, each
 *   with its grant, access token and refresh token, a fresh `serve` process on it, a few seconds of
 *   userinfo and refresh requests spread over the whole set, and the process's resident memory
 *   (VmRSS, VmHWM, and how much of it is file-backed: SQLite's memory-mapped pages) from
 *   /proc/<pid>/status.
 *
 * How the sessions are made: a few people sign in for real (the browser flow and the code
 * exchange, against a `serve` process); every other session is a copy of the first real one's
 * Session, Grant, AccessToken and RefreshToken rows with fresh random ids and values of the same
 * length, for its own person. The copies are shaped by Gatehouse's own oidc-provider adapter
 * (`createAdapterClass(...).upsert`, as the provider writes them: hashed keys, sealed session ids,
 * the same columns), whose statements are collected and run in large transactions; plus the
 * session_activity row a sign-in leaves. People are copies of one real user row (same password
 * hash), SESSIONS_PER_PERSON sessions each. Not copied: consumed authorization codes, finished
 * interactions and audit events (no request reads them as live state).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterPayload } from 'oidc-provider';
import { DATABASE_FILE } from '../src/cli/installation.ts';
import type { Config } from '../src/config/config.ts';
import { newObjectId } from '../src/directory/ids.ts';
import { createAdapterClass, sessionIdSealingKey } from '../src/oidc/adapter.ts';
import { openRuntime } from '../src/runtime.ts';
import { freshConfig } from '../test/helpers/databases.ts';
import { environmentWithoutGatehouse } from '../test/helpers/environment.ts';
import { BENCH_USER, REDIRECT_URI, SCOPE, seedBenchData } from './gatehouse.ts';
import {
  type ChildServer,
  FORM,
  HttpSession,
  type RowResult,
  browserSignIn,
  connectTarget,
  exchangeCode,
  expect200,
  formatMs,
  formatNumber,
  freePort,
  machineBusy,
  machineCpuMs,
  mapConcurrent,
  nextLoopbackAddress,
  refreshGrantBody,
  runAutocannon,
  summarize,
} from './lib.ts';

const BIN = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
/** Goals of issue 14 (goal 6). */
export const COLD_START_GOAL_MS = 1000;
export const RSS_GOAL_MB = 150;
const SESSIONS_PER_PERSON = 10;
/** When the server first sweeps expired rows after its start (AppOptions.firstPurgeDelayMs's default). */
const FIRST_SWEEP_MS = 30_000;
/** People who sign in for real; the other sessions copy the first one's rows. */
const REAL_SIGN_INS = 8;

// ---------------------------------------------------------------------------------------------
// A `serve` process, as production starts it

/**
 * The environment without the developer's GATEHOUSE_* settings: only the command line configures it.
 * BENCH_SERVE_NODE_OPTIONS, when set, is the server's NODE_OPTIONS (to try V8 flags on it alone).
 */
function serveEnvironment(): NodeJS.ProcessEnv {
  const env = environmentWithoutGatehouse();
  if (process.env.BENCH_SERVE_NODE_OPTIONS !== undefined) env.NODE_OPTIONS = process.env.BENCH_SERVE_NODE_OPTIONS;
  return env;
}

/** User + system CPU time of a process so far (ms), from /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the name), in clock ticks (100/s on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** The memory lines of /proc/<pid>/status, in kB. */
export interface MemoryStatus {
  VmRSS: number;
  VmHWM: number;
  RssAnon: number;
  RssFile: number;
  RssShmem: number;
}

function memoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN);
  return { VmRSS: kb('VmRSS'), VmHWM: kb('VmHWM'), RssAnon: kb('RssAnon'), RssFile: kb('RssFile'), RssShmem: kb('RssShmem') };
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.setTimeout(5000, () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

interface ServeProcess {
  pid: number;
  issuer: string;
  /** From spawn to the first 200 of the discovery document. */
  readyMs: number;
  /** The process's CPU time at that moment. */
  readyCpuMs: number;
  /** Other processes' share of the CPUs meanwhile (not this one, not the server), where /proc/stat exists. */
  otherLoad: number | undefined;
  /** performance.now() when it was spawned. */
  startedAt: number;
  cpuMs(): number;
  memory(): MemoryStatus;
  stop(): Promise<void>;
}

/** `node bin/gatehouse.js serve` on a data directory and port; resolves at its first discovery answer. */
async function startServe(dataDir: string, port: number): Promise<ServeProcess> {
  const issuer = `http://127.0.0.1:${port}`;
  const machine0 = machineCpuMs();
  const own0 = process.cpuUsage();
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--host', '127.0.0.1', '--issuer', issuer, '--data-dir', dataDir], {
    env: serveEnvironment(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-10_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const pid = child.pid;
  if (pid === undefined) throw new Error('serve did not start');
  const discovery = `${issuer}/.well-known/openid-configuration`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}) before answering:\n${stderr}`);
    if (performance.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`serve did not answer within 60 s:\n${stderr}`);
    }
    const status = await getStatus(discovery).catch(() => 0);
    if (status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const readyMs = performance.now() - started;
  const readyCpuMs = processCpuMs(pid);
  const machine1 = machineCpuMs();
  const own = process.cpuUsage(own0);
  const otherLoad =
    machine0 === undefined || machine1 === undefined
      ? undefined
      : Math.max(0, machine1 - machine0 - readyCpuMs - (own.user + own.system) / 1000) / (readyMs * availableParallelism());
  return {
    pid,
    issuer,
    readyMs,
    readyCpuMs,
    otherLoad,
    startedAt: started,
    cpuMs: () => processCpuMs(pid),
    memory: () => memoryStatus(pid),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      if (code !== 0) process.stderr.write(`serve exited with ${code}:\n${stderr}\n`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Cold start

export interface StartSample {
  ms: number;
  cpuMs: number;
  /** Other processes' share of the CPUs during the start. */
  otherLoad?: number | undefined;
}

export interface ColdStartResult {
  /** A data directory that does not exist yet: created, migrated, keys generated. */
  fresh: StartSample[];
  /** The same directory again, already migrated. */
  existing: StartSample[];
}

export async function coldStarts(runs: number, progress: (text: string) => void): Promise<ColdStartResult> {
  const result: ColdStartResult = { fresh: [], existing: [] };
  for (let run = 0; run < runs; run++) {
    const root = await mkdtemp(join(tmpdir(), 'gatehouse-bench-start-'));
    try {
      const dataDir = join(root, 'data');
      const port = await freePort();
      for (const kind of ['fresh', 'existing'] as const) {
        const server = await startServe(dataDir, port);
        await server.stop();
        result[kind].push({ ms: server.readyMs, cpuMs: server.readyCpuMs, otherLoad: server.otherLoad });
        progress(`${kind === 'fresh' ? '' : ', '}${kind} ${Math.round(server.readyMs)} ms (CPU ${Math.round(server.readyCpuMs)} ms)`);
      }
      progress(run < runs - 1 ? '; ' : '');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Many live sessions

export interface FootprintResult {
  sessions: number;
  people: number;
  realSignIns: number;
  seedSeconds: number;
  /** Right after the start, before any request. */
  idle: MemoryStatus;
  /** After the traffic. */
  loaded: MemoryStatus;
  /** After the server's first sweep of expired rows (30 s after its start; VmHWM: the peak over its life). */
  swept: MemoryStatus;
  userinfo: RowResult;
  refresh: RowResult;
  /** Distinct sessions the traffic touched. */
  touched: number;
}

interface Issued {
  accessToken: string;
  refreshToken: string;
}

/** A random value shaped like `like` (oidc-provider's ids and token values are base64url). */
const randomLike = (like: string): string => randomBytes(Math.ceil((like.length * 3) / 4)).toString('base64url').slice(0, like.length);

/** A deep copy of a payload with every string value found in `replace` swapped for its replacement. */
function replaced<T>(value: T, replace: Map<string, string>): T {
  if (typeof value === 'string') return (replace.get(value) ?? value) as T;
  if (Array.isArray(value)) return value.map((item) => replaced(item, replace)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaced(item, replace)])) as T;
  return value;
}

const shuffled = <T>(items: T[]): T[] => {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
};

/** What seedSessions leaves: a data directory with the sessions, and every session's tokens. */
export interface Seeded {
  people: number;
  client: { clientId: string; clientSecret: string };
  issued: Issued[];
  seconds: number;
}

/**
 * Fills the SQLite data directory of `config` (new, empty) with `sessions` live sessions: the app,
 * the people, REAL_SIGN_INS real sign-ins against a `serve` process on config.port, and copies of
 * the first one's rows. The copies are shaped by the provider's own adapter (its `upsert`, with a
 * write function that collects the statements) and written in large transactions.
 */
export async function seedSessions(config: Config, sessions: number, progress: (text: string) => void): Promise<Seeded> {
  const started = performance.now();
  const people = Math.max(REAL_SIGN_INS, Math.ceil(sessions / SESSIONS_PER_PERSON));
  let client: { clientId: string; clientSecret: string };
  const personIds: string[] = [];
  {
    const runtime = await openRuntime(config);
    try {
      client = await seedBenchData(runtime);
      const template = await runtime.directory.users.get(BENCH_USER.username);
      // Copies of the user row users.create wrote (same password hash), names in lower case so that their keys are the names.
      const { db } = runtime.storage;
      const row = await db.selectFrom('users').selectAll().where('id', '=', template.id).executeTakeFirstOrThrow();
      for (let start = 0; start < people; start += 1000) {
        const rows = Array.from({ length: Math.min(1000, people - start) }, (_, i) => {
          const username = `person.${start + i}`;
          const email = `${username}@example.com`;
          const id = newObjectId();
          personIds.push(id);
          return { ...row, id, username, username_key: username, email, email_key: email, firstname: 'Person', lastname: String(start + i) };
        });
        await db.insertInto('users').values(rows).execute();
      }
    } finally {
      await runtime.close();
    }
  }
  progress(`${formatNumber(people)} people; `);

  // A few real sign-ins, against the real server.
  const first = await startServe(config.dataDir, config.port);
  let real: Issued[];
  try {
    const target = await connectTarget(serveAsChild(first, client));
    real = await mapConcurrent(REAL_SIGN_INS, 4, async (index) => {
      const session = new HttpSession(nextLoopbackAddress());
      try {
        const { code } = await browserSignIn(target, session, {}, { username: `person.${index}`, password: BENCH_USER.password });
        const tokens = await exchangeCode(target, session, code);
        if (!tokens.refresh_token) throw new Error('no refresh token from the code exchange');
        return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
      } finally {
        session.close();
      }
    });
  } finally {
    await first.stop();
  }
  progress(`${REAL_SIGN_INS} real sign-ins; `);

  // The rest: copies of the first real sign-in's rows, shaped by the provider's own adapter.
  const issued: Issued[] = [...real];
  const statements: Array<[string, unknown[]]> = [];
  const collect = async (sql: string, parameters: readonly unknown[]) => {
    statements.push([sql, [...parameters]]);
    return 1;
  };
  const runtime = await openRuntime(config);
  try {
    const { storage } = runtime;
    const reader = createAdapterClass(storage.db, runtime.directory.access, { read: storage.read, write: storage.write, sessionIdKey: sessionIdSealingKey(runtime.secret) });
    const Adapter = createAdapterClass(storage.db, runtime.directory.access, { read: storage.read, write: collect, sessionIdKey: sessionIdSealingKey(runtime.secret) });
    const adapters = { Session: new Adapter('Session'), Grant: new Adapter('Grant'), AccessToken: new Adapter('AccessToken'), RefreshToken: new Adapter('RefreshToken') };
    const sample = real[0] as Issued;
    const accessToken = await new reader('AccessToken').find(sample.accessToken);
    const refreshToken = await new reader('RefreshToken').find(sample.refreshToken);
    if (!accessToken?.grantId || !accessToken.sessionUid || !accessToken.accountId || !refreshToken) throw new Error('the real sign-in left no tokens with a grant and a session');
    const grant = await new reader('Grant').find(accessToken.grantId);
    const session = await new reader('Session').findByUid(accessToken.sessionUid);
    if (!grant || !session?.jti) throw new Error('the real sign-in left no grant or session');
    const activity = await storage.db.selectFrom('session_activity').selectAll().where('session_uid', '=', accessToken.sessionUid).executeTakeFirst();
    const sid = typeof accessToken.sid === 'string' ? accessToken.sid : undefined;
    const templates: Array<[keyof typeof adapters, AdapterPayload]> = [
      ['Session', session],
      ['Grant', grant],
      ['AccessToken', accessToken],
      ['RefreshToken', refreshToken],
    ];
    const now = Math.floor(Date.now() / 1000);
    const database = new DatabaseSync(join(config.dataDir, DATABASE_FILE));
    try {
      const prepared = new Map<string, StatementSync>();
      const flush = () => {
        database.exec('BEGIN IMMEDIATE');
        for (const [sql, parameters] of statements) {
          let statement = prepared.get(sql);
          if (!statement) {
            statement = database.prepare(sql);
            prepared.set(sql, statement);
          }
          statement.run(...(parameters as SQLInputValue[]));
        }
        database.exec('COMMIT');
        statements.length = 0;
      };
      for (let index = real.length; index < sessions; index++) {
        const replace = new Map<string, string>([
          [session.jti as string, randomLike(session.jti as string)],
          [accessToken.sessionUid, randomLike(accessToken.sessionUid)],
          [accessToken.grantId, randomLike(accessToken.grantId)],
          [accessToken.jti as string, randomLike(accessToken.jti as string)],
          [refreshToken.jti as string, randomLike(refreshToken.jti as string)],
          [accessToken.accountId, personIds[index % people] as string],
        ]);
        if (sid) replace.set(sid, randomLike(sid));
        for (const [model, payload] of templates) {
          const fresh = replaced(payload, replace);
          const { consumed: _consumed, ...stored } = fresh;
          await adapters[model].upsert(fresh.jti as string, stored as AdapterPayload, typeof fresh.exp === 'number' ? fresh.exp - now : 0);
        }
        if (activity) {
          statements.push([
            'insert into session_activity (session_uid, account_id, ip, user_agent, created_at, last_seen_at) values (?, ?, ?, ?, ?, ?)',
            [replace.get(accessToken.sessionUid), replace.get(accessToken.accountId), activity.ip, activity.user_agent, activity.created_at, activity.last_seen_at],
          ]);
        }
        issued.push({ accessToken: replace.get(accessToken.jti as string) as string, refreshToken: replace.get(refreshToken.jti as string) as string });
        if (statements.length >= 20_000) flush();
      }
      flush();
      database.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } finally {
      database.close();
    }
  } finally {
    await runtime.close();
  }
  const seconds = (performance.now() - started) / 1000;
  progress(`${formatNumber(issued.length)} sessions in ${seconds.toFixed(0)} s; `);
  return { people, client, issued, seconds };
}

export async function sessionFootprint(options: { sessions: number; durationMs: number; connections: number; progress: (text: string) => void }): Promise<FootprintResult> {
  const port = await freePort();
  const { config, cleanup } = await freshConfig('sqlite', { issuer: `http://127.0.0.1:${port}`, port, host: '127.0.0.1' });
  try {
    const seeded = await seedSessions(config, options.sessions, options.progress);
    return { ...(await measureSessions(config, seeded, options)), sessions: seeded.issued.length, people: seeded.people, realSignIns: REAL_SIGN_INS, seedSeconds: seeded.seconds };
  } finally {
    await cleanup();
  }
}

/** A fresh `serve` process on a seeded directory, traffic over the whole set, and its memory. */
export async function measureSessions(
  config: Config,
  seeded: Seeded,
  options: { durationMs: number; connections: number },
): Promise<Pick<FootprintResult, 'idle' | 'loaded' | 'swept' | 'userinfo' | 'refresh' | 'touched'>> {
  const { issued } = seeded;
  const server = await startServe(config.dataDir, config.port);
  try {
    const idle = server.memory();
    const target = await connectTarget(serveAsChild(server, seeded.client));
    const touched = new Set<number>();
    const order = shuffled(issued.map((_, index) => index));
    let nextRefresh = 0;
    const refresh = summarize(
      await runAutocannon({
        url: target.endpoints.token,
        method: 'POST',
        headers: { ...FORM, authorization: target.basic },
        connections: options.connections,
        durationMs: options.durationMs,
        check: expect200('"refresh_token"'),
        next: () => {
          // Each refresh token once (they rotate), in random order over the whole set.
          const index = order[nextRefresh++ % order.length] as number;
          touched.add(index);
          return { body: refreshGrantBody((issued[index] as Issued).refreshToken) };
        },
      }),
    );
    // Access tokens of the sessions not refreshed (a rotation leaves the old access token alive; keep them apart all the same).
    const unused = order.slice(nextRefresh);
    const userinfo = summarize(
      await runAutocannon({
        url: target.endpoints.userinfo,
        method: 'GET',
        connections: options.connections,
        durationMs: options.durationMs,
        check: expect200('"sub"'),
        next: () => {
          const index = unused[Math.floor(Math.random() * unused.length)] as number;
          touched.add(index);
          return { headers: { authorization: `Bearer ${(issued[index] as Issued).accessToken}` } };
        },
      }),
    );
    const loaded = server.memory();
    // The server sweeps expired rows 30 s after its start (src/http/app.ts), and every 10 minutes: a
    // long-running process has done it, so read the memory once more after the first.
    const left = server.startedAt + FIRST_SWEEP_MS + 3000 - performance.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    return { idle, loaded, swept: server.memory(), userinfo, refresh, touched: touched.size };
  } finally {
    await server.stop();
  }
}

/** A `serve` process seen as the bench's ChildServer, for connectTarget. */
function serveAsChild(server: ServeProcess, client: { clientId: string; clientSecret: string }): ChildServer {
  return {
    info: {
      name: 'Gatehouse (serve, SQLite)',
      issuer: server.issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      redirectUri: REDIRECT_URI,
      username: BENCH_USER.username,
      password: BENCH_USER.password,
      scope: SCOPE,
    },
    pid: server.pid,
    cpuMs: async () => server.cpuMs(),
    close: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// The section

export interface FootprintSection {
  /** Share of the CPUs busy just before the cold starts (other processes). */
  busy?: number | undefined;
  coldStart?: ColdStartResult;
  sessions?: FootprintResult;
}

export async function measureFootprint(options: { starts: number; sessions: number; durationMs: number; connections: number; progress: (text: string) => void }): Promise<FootprintSection> {
  const { progress } = options;
  const busy = await machineBusy(1000);
  progress(`  cold start of \`gatehouse serve\` to the first discovery answer, ${options.starts} times: `);
  const coldStart = await coldStarts(options.starts, progress);
  progress(`\n  ${formatNumber(options.sessions)} live sessions: `);
  const sessions = await sessionFootprint(options);
  progress(`RSS ${mb(sessions.swept.VmRSS)} MB, peak ${mb(sessions.swept.VmHWM)} MB\n`);
  return { busy, coldStart, sessions };
}

const mb = (kb: number) => formatNumber(kb / 1024, 1);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? ((sorted[Math.floor((sorted.length - 1) / 2)] as number) + (sorted[Math.ceil((sorted.length - 1) / 2)] as number)) / 2 : Number.NaN;
};

/** The report's lines and goals for the section. */
export function footprintReport(section: FootprintSection): { lines: string[]; goals: string[]; failed: boolean } {
  // Wall time is what the goal is about, but on a shared machine CPU time says more about the code.
  const busy = section.busy !== undefined && section.busy > 0.3 ? ` (the machine was ${formatNumber(100 * section.busy)}% busy just before)` : '';
  const lines: string[] = [];
  const goals: string[] = [];
  let failed = false;
  const { coldStart, sessions } = section;
  if (coldStart) {
    const others = (samples: StartSample[]) => {
      const loads = samples.flatMap((s) => (s.otherLoad === undefined ? [] : [s.otherLoad]));
      return loads.length ? `, other processes ${formatNumber(100 * median(loads))}% of the CPUs (median; max ${formatNumber(100 * Math.max(...loads))}%)` : '';
    };
    const describe = (samples: StartSample[]) =>
      `median ${formatNumber(median(samples.map((s) => s.ms)))} ms, max ${formatNumber(Math.max(...samples.map((s) => s.ms)))} ms (CPU ${formatNumber(median(samples.map((s) => s.cpuMs)))} ms${others(samples)})`;
    lines.push(
      `Cold start, \`node bin/gatehouse.js serve\` on SQLite to the first 200 of the discovery document (${coldStart.fresh.length} runs): ` +
        `new data directory ${describe(coldStart.fresh)}; existing one ${describe(coldStart.existing)}.`,
    );
    for (const [label, samples] of [
      ['new data directory', coldStart.fresh],
      ['existing data directory', coldStart.existing],
    ] as const) {
      const value = median(samples.map((s) => s.ms));
      goals.push(
        `- ${value < COLD_START_GOAL_MS ? 'PASS' : 'FAIL'} cold start, ${label}: median ${formatNumber(value)} ms (goal < ${formatNumber(COLD_START_GOAL_MS)} ms), max ${formatNumber(Math.max(...samples.map((s) => s.ms)))} ms; ` +
          `the process's CPU until then ${formatNumber(median(samples.map((s) => s.cpuMs)))} ms${busy}`,
      );
    }
  }
  if (sessions) {
    const { idle, loaded, swept, userinfo, refresh } = sessions;
    const memory = (m: MemoryStatus) => `VmRSS ${mb(m.VmRSS)} MB (anonymous ${mb(m.RssAnon)}, file-backed ${mb(m.RssFile)}, shared ${mb(m.RssShmem)})`;
    const traffic = (r: RowResult) => `${formatNumber(r.rps)}/s, p99 ${formatMs(r.p99)} ms${r.failed ? `, ${r.failed} FAILED: ${r.failures.slice(0, 2).join('; ')}` : ''}`;
    if (userinfo.failed || refresh.failed) failed = true;
    lines.push(
      `${formatNumber(sessions.sessions)} live sessions (${formatNumber(sessions.people)} people; ${sessions.realSignIns} real sign-ins, the rest copies of one through the provider's adapter, made in ${sessions.seedSeconds.toFixed(0)} s), one \`serve\` process: ` +
        `after start ${memory(idle)}; after ${formatNumber(refresh.requests)} refreshes (${traffic(refresh)}) and ${formatNumber(userinfo.requests)} userinfo requests (${traffic(userinfo)}) touching ${formatNumber(sessions.touched)} sessions: ` +
        `${memory(loaded)}; after the first sweep of expired rows (${FIRST_SWEEP_MS / 1000} s after the start): ${memory(swept)}, peak VmHWM ${mb(swept.VmHWM)} MB.`,
    );
    goals.push(
      `- ${swept.VmHWM / 1024 < RSS_GOAL_MB ? 'PASS' : 'FAIL'} ${formatNumber(sessions.sessions)} live sessions: peak RSS ${mb(swept.VmHWM)} MB (goal < ${RSS_GOAL_MB} MB), ` +
        `of which ${mb(swept.RssFile)} MB file-backed (reclaimable mapped pages: the node binary, SQLite's memory map) at the end`,
      `- ${Math.max(loaded.RssAnon, swept.RssAnon) / 1024 < RSS_GOAL_MB ? 'PASS' : 'FAIL'} ${formatNumber(sessions.sessions)} live sessions, anonymous memory only (what the kernel can't take back): ` +
        `${mb(Math.max(loaded.RssAnon, swept.RssAnon))} MB at most of the readings (goal < ${RSS_GOAL_MB} MB)`,
    );
  }
  if (lines.length) lines.push('');
  return { lines, goals, failed };
}
