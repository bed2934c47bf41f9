/**
 * `npm run bench`: Gatehouse's protocol endpoints under load, beside a bare oidc-provider doing the
 * same work, plus the argon2id ceiling for password sign-ins. See docs/performance.md.
 *
 *   node bench/run.ts [--duration S] [--rounds N] [--connections N] [--batch N] [--signin-concurrency N]
 *                     [--token-rate R] [--sessions N] [--starts N] [--rows a,b] [--json FILE] [--profile DIR]
 *
 * Each option has an environment variable (BENCH_DURATION, ...); GATEHOUSE_BENCH_DATABASE_URL adds
 * a PostgreSQL column. Exits 1 only when something errored (a failed request counts), not when a
 * goal is missed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { argon2Capacity, signatureLatency, threadPoolSize } from './argon2.ts';
import { passwordTotpSignInLoad, signInLoad, startGatehouse } from './gatehouse.ts';
import {
  type ChildServer,
  FORM,
  HttpSession,
  Minter,
  type RowResult,
  type Sample,
  mergeSamples,
  type Target,
  codeGrantBody,
  connectTarget,
  expect200,
  formatMs,
  machineBusy,
  formatNumber,
  markdownTable,
  refreshGrant,
  refreshGrantBody,
  runPaced,
  runSingleUse,
  runTimed,
  summarize,
} from './lib.ts';
import { type FootprintSection, footprintReport, measureFootprint } from './footprint.ts';
import { LATENCY_KEYS, type LatencyResult, latencyReport, steadyRate } from './latency.ts';
import { PROFILE_WINDOWS_FILE, type ProfileWindows } from './profile-compare.ts';
import { startReference } from './reference.ts';
import { startScaledGatehouse } from './scale-out.ts';
import { startStaticReference } from './static-reference.ts';

// ---------------------------------------------------------------------------------------------
// Options

const OPTION_SPECS = {
  duration: { env: 'BENCH_DURATION', default: '5', help: 'measured seconds per row' },
  connections: { env: 'BENCH_CONNECTIONS', default: '10', help: 'autocannon connections' },
  rounds: { env: 'BENCH_ROUNDS', default: '3', help: 'rows compared with the reference alternate between the servers this many times, so that both see the same background load' },
  batch: { env: 'BENCH_BATCH', default: '250', help: 'codes/refresh tokens minted per timed batch' },
  'signin-concurrency': { env: 'BENCH_SIGNIN_CONCURRENCY', default: '', help: 'password sign-ins in flight (default: the thread pool size, as many as argon2 verifies in flight)' },
  'token-rate': { env: 'BENCH_TOKEN_RATE', default: '50', help: 'steady token requests/s for the p99 with/without sign-ins' },
  sessions: { env: 'BENCH_SESSIONS', default: '100000', help: 'live sessions (each with a grant, an access and a refresh token) for the footprint section' },
  starts: { env: 'BENCH_STARTS', default: '5', help: 'cold starts of `gatehouse serve` measured by the footprint section' },
  rows: { env: 'BENCH_ROWS', default: '', help: 'comma-separated subset of rows/sections (default: all)' },
  json: { env: 'BENCH_JSON', default: '', help: 'also write the results as JSON to this file' },
  profile: { env: 'BENCH_PROFILE_DIR', default: '', help: 'run the servers with --cpu-prof, writing profiles under this directory' },
} as const;

type OptionName = keyof typeof OPTION_SPECS;

const ROW_KEYS = ['discovery', 'jwks', 'token-code', 'token-refresh', 'userinfo', 'introspection', 'signin', 'signin-totp'] as const;
type RowKey = (typeof ROW_KEYS)[number];
/** Issue 14's goals: Gatehouse on durable SQLite against the in-memory reference, in one run. */
const TOKEN_RATIO_GOAL = 0.9;
const SIGN_IN_RATIO_GOAL = 0.9;
const SECTIONS = [...ROW_KEYS, 'interference', 'argon2', 'reference', 'bare-http', 'postgres', 'workers', 'nodes', 'latency', 'footprint'] as const;

/** Processes of the `workers` and `nodes` columns (this machine has 2 CPUs). */
const SCALE_PROCESSES = 2;
/** The rows the several-process columns run, and the goal for 2 workers over 1 on the token rows. */
const SCALE_ROWS: readonly RowKey[] = ['token-code', 'token-refresh', 'userinfo', 'introspection'];
const WORKERS_GOAL_ROWS: readonly RowKey[] = ['token-code', 'token-refresh'];
const WORKERS_GOAL = 1.3;

interface Options {
  durationMs: number;
  connections: number;
  rounds: number;
  batch: number;
  signInConcurrency: number;
  tokenRate: number;
  sessions: number;
  starts: number;
  sections: Set<string>;
  json: string | undefined;
  profile: string | undefined;
  databaseUrl: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(Object.keys(OPTION_SPECS).map((name) => [name, { type: 'string' as const }])),
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    const lines = Object.entries(OPTION_SPECS).map(([name, spec]) => `  --${name.padEnd(20)} ${spec.env.padEnd(26)} ${spec.help}${spec.default ? ` (${spec.default})` : ''}`);
    process.stdout.write(`node bench/run.ts [options]\n${lines.join('\n')}\n  rows/sections: ${SECTIONS.join(', ')}\n  GATEHOUSE_BENCH_DATABASE_URL=postgres://… adds PostgreSQL\n`);
    process.exit(0);
  }
  const given = values as Record<string, string | boolean | undefined>;
  const raw = (name: OptionName): string => (given[name] as string | undefined) ?? process.env[OPTION_SPECS[name].env] ?? OPTION_SPECS[name].default;
  const positive = (name: OptionName, fallback?: number): number => {
    const text = raw(name);
    if (text === '' && fallback !== undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} / ${OPTION_SPECS[name].env}: "${text}" is not a positive number`);
    return value;
  };
  const rows = raw('rows');
  const sections = new Set(rows ? rows.split(',').map((s) => s.trim()) : SECTIONS);
  for (const section of sections) {
    if (!(SECTIONS as readonly string[]).includes(section)) throw new Error(`--rows: unknown "${section}" (one of ${SECTIONS.join(', ')})`);
  }
  return {
    durationMs: positive('duration') * 1000,
    connections: Math.round(positive('connections')),
    rounds: Math.round(positive('rounds')),
    batch: Math.round(positive('batch')),
    signInConcurrency: Math.round(positive('signin-concurrency', threadPoolSize())),
    tokenRate: positive('token-rate'),
    sessions: Math.round(positive('sessions')),
    starts: Math.round(positive('starts')),
    sections,
    json: raw('json') || undefined,
    profile: raw('profile') || undefined,
    databaseUrl: process.env.GATEHOUSE_BENCH_DATABASE_URL || undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Rows

interface RowDef {
  key: RowKey;
  label: string;
  /** Also measured on the reference, and compared. */
  compared: boolean;
  /** The issue's goal for this row: SQLite/reference req/s ≥ 0.70. */
  ratioGoal?: boolean;
  /** Also measured on a bare node:http server answering the same bytes; goal SQLite/bare ≥ 0.90. */
  againstBareHttp?: boolean;
  run(target: Target, minter: Minter, options: Options): Promise<Sample>;
}

const tokenEndpoint = (target: Target) => ({
  url: target.endpoints.token,
  method: 'POST' as const,
  headers: { ...FORM, authorization: target.basic },
  origins: target.origins,
  cpu: target.cpuMs,
});

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}

/** A few access tokens, used over and over (they are not single-use). */
async function accessTokens(minter: Minter): Promise<() => string> {
  const tokens = (await minter.tokens(20)).map((t) => t.access_token);
  let index = 0;
  return () => tokens[index++ % tokens.length] as string;
}

const ROWS: RowDef[] = [
  {
    key: 'discovery',
    label: 'discovery',
    compared: false,
    againstBareHttp: true,
    run: (target, _minter, o) =>
      runTimed({ url: target.endpoints.discovery, method: 'GET', check: expect200('"issuer"'), connections: o.connections, durationMs: o.durationMs, cpu: target.cpuMs }),
  },
  {
    key: 'jwks',
    label: 'JWKS',
    compared: false,
    againstBareHttp: true,
    run: (target, _minter, o) =>
      runTimed({ url: target.endpoints.jwks, method: 'GET', check: expect200('"keys"'), connections: o.connections, durationMs: o.durationMs, cpu: target.cpuMs }),
  },
  {
    key: 'token-code',
    label: 'token (authorization_code)',
    compared: true,
    ratioGoal: true,
    run: (target, minter, o) =>
      runSingleUse({
        ...tokenEndpoint(target),
        check: expect200('"id_token"'),
        connections: o.connections,
        durationMs: o.durationMs,
        batch: o.batch,
        mint: (n) => minter.codes(n),
        use: (code) => ({ body: codeGrantBody(target, code) }),
      }),
  },
  {
    key: 'token-refresh',
    label: 'token (refresh_token)',
    compared: true,
    ratioGoal: true,
    run: (target, minter, o) =>
      runSingleUse({
        ...tokenEndpoint(target),
        check: expect200('"refresh_token"'),
        connections: o.connections,
        durationMs: o.durationMs,
        batch: o.batch,
        mint: async (n) => (await minter.tokens(n)).map((t) => required(t.refresh_token, 'refresh_token from the code exchange')),
        use: (refreshToken) => ({ body: refreshGrantBody(refreshToken) }),
      }),
  },
  {
    key: 'userinfo',
    label: 'userinfo',
    compared: true,
    ratioGoal: true,
    async run(target, minter, o) {
      const next = await accessTokens(minter);
      return runTimed({
        url: target.endpoints.userinfo,
        method: 'GET',
        next: () => ({ headers: { authorization: `Bearer ${next()}` } }),
        check: expect200('"sub"'),
        origins: target.origins,
        connections: o.connections,
        durationMs: o.durationMs,
        cpu: target.cpuMs,
      });
    },
  },
  {
    key: 'introspection',
    label: 'introspection',
    compared: true,
    ratioGoal: true,
    async run(target, minter, o) {
      const next = await accessTokens(minter);
      return runTimed({
        url: target.endpoints.introspection,
        method: 'POST',
        headers: { ...FORM, authorization: target.basic },
        next: () => ({ body: new URLSearchParams({ token: next() }).toString() }),
        check: expect200('"active":true'),
        origins: target.origins,
        connections: o.connections,
        durationMs: o.durationMs,
        cpu: target.cpuMs,
      });
    },
  },
  {
    key: 'signin',
    label: 'password sign-in (full flow)',
    // On the reference too (with the same argon2id verify): what the protocol engine itself allows.
    compared: true,
    async run(target, _minter, o) {
      await signInLoad(target, { concurrency: o.signInConcurrency, durationMs: 1000 });
      return signInLoad(target, { concurrency: o.signInConcurrency, durationMs: o.durationMs, cpu: target.cpuMs });
    },
  },
  {
    key: 'signin-totp',
    label: 'password + TOTP sign-in (full flow)',
    // Gatehouse only: the reference has no second factor. Compare with the password row above.
    compared: false,
    async run(target, _minter, o) {
      await passwordTotpSignInLoad(target, { concurrency: o.signInConcurrency, durationMs: 1000 });
      return passwordTotpSignInLoad(target, { concurrency: o.signInConcurrency, durationMs: o.durationMs, cpu: target.cpuMs });
    },
  },
];

const progress = (text: string) => process.stderr.write(text);

/** Other processes' share of the CPUs above which a measurement is flagged as disturbed. */
const NOISY = 0.15;
const percent = (fraction: number | undefined) => (fraction === undefined ? '?' : `${formatNumber(100 * fraction)}%`);

function describe(result: RowResult, cpuLabel = 'server CPU'): string {
  const other = result.otherLoad === undefined ? '' : `, other processes ${percent(result.otherLoad)} of the CPUs`;
  const cpu = result.cpuPerRequest === undefined ? '' : `, ${cpuLabel} ${formatMs(result.cpuPerRequest)} ms/req${other}`;
  const base = `${formatNumber(result.rps)} /s, p50 ${formatMs(result.p50)} ms, p99 ${formatMs(result.p99)} ms${cpu} (${result.requests} in ${result.seconds.toFixed(1)} s)`;
  return result.failed ? `${base} — ${result.failed} FAILED: ${result.failures.slice(0, 3).join('; ')}` : base;
}

/** One server under test: a column of the table. */
interface Column {
  name: string;
  reference: boolean;
  /** The bare node:http server: only the discovery and JWKS rows. */
  bareHttp?: boolean;
  /** Several Gatehouse processes (workers, nodes): only SCALE_ROWS, reported beside the one-process column named `baseline`. */
  scale?: { baseline: string; ratioLabel: string; goal?: number };
  server: ChildServer;
  target: Target;
  minter: Minter;
  results: Map<RowKey, RowResult>;
  /** With --profile: the folder under it where this column's processes write their CPU profiles. */
  profile?: string;
}

async function openColumn(name: string, reference: boolean, start: Promise<ChildServer>): Promise<Column> {
  const server = await start;
  try {
    const target = await connectTarget(server);
    const minter = new Minter(target);
    await minter.open();
    return { name, reference, server, target, minter, results: new Map() };
  } catch (error) {
    await server.close();
    throw error;
  }
}

/** The bare node:http server, serving the bytes it copied from `gatehouse`: driven at its own two paths. */
async function openBareHttpColumn(gatehouse: Column, execArgv: string[]): Promise<Column> {
  const server = await startStaticReference(gatehouse.target.issuer, execArgv);
  const at = (url: string) => new URL(new URL(url).pathname, server.info.issuer).href;
  const target: Target = {
    ...gatehouse.target,
    ...server.info,
    cpuMs: () => server.cpuMs(),
    origin: new URL(server.info.issuer).origin,
    endpoints: { ...gatehouse.target.endpoints, discovery: at(gatehouse.target.endpoints.discovery), jwks: at(gatehouse.target.endpoints.jwks) },
  };
  // Never opened: the two rows it takes part in mint nothing.
  return { name: 'bare node:http', reference: false, bareHttp: true, server, target, minter: new Minter(target), results: new Map() };
}

async function closeColumn(column: Column): Promise<void> {
  column.minter.close();
  await column.server.close();
  if (column.minter.renewals) progress(`  note: ${column.name}'s minting sessions had to sign in again ${column.minter.renewals} times\n`);
}

interface Interference {
  rate: number;
  alone: RowResult;
  during: RowResult;
  signIns: RowResult;
}

/** Token-endpoint latency at a steady rate, alone and while password sign-ins keep argon2 busy. */
async function interference(target: Target, minter: Minter, options: Options): Promise<Interference> {
  const count = Math.max(20, Math.round((options.tokenRate * options.durationMs) / 1000));
  const session = new HttpSession(undefined, 64);
  const mint = async () => (await minter.tokens(count)).map((t) => required(t.refresh_token, 'refresh_token'));
  const steady = async (refreshTokens: string[]) =>
    summarize(
      await runPaced({
        ratePerSecond: options.tokenRate,
        count,
        task: async (index) => {
          await refreshGrant(target, session, refreshTokens[index] as string);
        },
      }),
    );
  try {
    progress(`  token (refresh_token) at a steady ${options.tokenRate}/s, alone … `);
    const alone = await steady(await mint());
    progress(`${describe(alone)}\n`);

    progress(`  token (refresh_token) at a steady ${options.tokenRate}/s, during sign-ins … `);
    const refreshTokens = await mint();
    const controller = new AbortController();
    const signIns = signInLoad(target, { concurrency: options.signInConcurrency, durationMs: options.durationMs * 4 + 10_000, signal: controller.signal });
    let during: RowResult;
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // let the sign-ins reach full speed
      during = await steady(refreshTokens);
    } finally {
      controller.abort();
    }
    const signInResult = summarize(await signIns);
    progress(`${describe(during)}\n    (sign-ins meanwhile: ${describe(signInResult)})\n`);
    return { rate: options.tokenRate, alone, during, signIns: signInResult };
  } finally {
    session.close();
  }
}

/** A note when other processes took a noticeable share of the CPUs while these were measured. */
function disturbed(...results: RowResult[]): string {
  const worst = Math.max(...results.map((r) => r.otherLoad ?? 0));
  return worst > NOISY ? ` — disturbed: other processes used up to ${percent(worst)} of the CPUs meanwhile` : '';
}

/**
 * Each token row at a steady open-loop rate of half its maximum from this run (measured first when
 * the row did not run), on SQLite and, when the reference column runs, on the reference at half of
 * its own maximum: what the protocol engine alone reaches at the same share of its capacity.
 */
async function latencySection(columns: Column[], options: Options): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const key of LATENCY_KEYS) {
    const row = ROWS.find((r) => r.key === key);
    if (!row) continue;
    for (const column of columns) {
      let max = column.results.get(key);
      const measuredHere = !max || max.failed > 0;
      if (!max || max.failed) {
        progress(`  ${row.label} · ${column.name}, its maximum first … `);
        max = summarize(await row.run(column.target, column.minter, { ...options, durationMs: Math.min(options.durationMs, 2000) }));
        progress(`${describe(max)}\n`);
      }
      const rate = Math.max(1, max.rps / 2);
      progress(`  ${row.label} · ${column.name} at a steady ${formatNumber(rate)}/s (half the maximum) … `);
      const result = await steadyRate(key, column.target, column.minter, rate, options.durationMs);
      progress(`${describe(result)}\n`);
      results.push({ key, label: row.label, column: column.name, reference: column.reference, maxRps: max.rps, measuredHere, rate, result });
    }
  }
  return results;
}

interface Argon2Result {
  capacity: RowResult;
  signatures: Array<{ inFlight: number; medianMs: number }>;
}

async function measureArgon2(poolSize: number, options: Options): Promise<Argon2Result> {
  progress(`  argon2id verify, ${poolSize} in flight (no server) … `);
  const capacity = await argon2Capacity({ concurrency: poolSize, durationMs: options.durationMs });
  progress(`${describe(capacity, 'CPU')}\n  RS256 signature while argon2 verifies run … `);
  const signatures = await signatureLatency([...new Set([0, Math.max(1, poolSize - 2), poolSize])]);
  progress(`${signatures.map((s) => `${s.inFlight} in flight: ${formatMs(s.medianMs)} ms`).join(', ')}\n`);
  return { capacity, signatures };
}

// ---------------------------------------------------------------------------------------------
// Report

function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  return (require(`${name}/package.json`) as { version: string }).version;
}

const ratio = (ours: RowResult | undefined, theirs: RowResult | undefined, pick: (r: RowResult) => number | undefined): string => {
  if (!ours || !theirs) return '';
  if (ours.failed || theirs.failed) return 'error';
  const a = pick(ours);
  const b = pick(theirs);
  return a === undefined || b === undefined ? '' : (a / b).toFixed(2);
};

/**
 * One line per row: for each server req/s, p50, p99 and server CPU per request; then for each
 * Gatehouse column its throughput ratio to the reference and its CPU-efficiency ratio (reference
 * CPU per request ÷ Gatehouse's), which is steadier when other processes share the machine.
 */
function mainTable(columns: Column[]): string {
  const reference = columns.find((c) => c.reference);
  const ours = columns.filter((c) => !c.reference && !c.bareHttp);
  const header = ['row'];
  for (const column of columns) header.push(`${column.name} req/s`, 'p50 ms', 'p99 ms', 'CPU ms/req');
  if (reference) for (const column of ours) header.push(`${column.name}/ref req/s`, `${column.name}/ref CPU`);
  const rows: string[][] = [];
  for (const row of ROWS) {
    if (!columns.some((c) => c.results.has(row.key))) continue;
    const line = [row.label];
    for (const column of columns) {
      const result = column.results.get(row.key);
      if (!result) line.push('', '', '', '');
      else if (result.failed) line.push(`ERROR ${result.failed}/${result.requests}`, '', '', '');
      else {
        const flag = (result.otherLoad ?? 0) > NOISY ? '*' : '';
        line.push(`${formatNumber(result.rps)}${flag}`, formatMs(result.p50), formatMs(result.p99), result.cpuPerRequest === undefined ? '' : formatMs(result.cpuPerRequest));
      }
    }
    if (reference) {
      const theirs = reference.results.get(row.key);
      for (const column of ours) {
        const mine = column.results.get(row.key);
        line.push(
          ratio(mine, theirs, (r) => r.rps),
          ratio(theirs, mine, (r) => r.cpuPerRequest),
        );
      }
    }
    rows.push(line);
  }
  const table = markdownTable(header, rows, header.map((_, i) => i > 0));
  const loads = columns.map(
    (c) => `${c.name}: ${ROWS.filter((r) => c.results.has(r.key)).map((r) => `${r.key} ${percent(c.results.get(r.key)?.otherLoad)}`).join(', ')}`,
  );
  return `${table}\n\nOther processes' share of the CPUs during each measurement (* marks more than ${percent(NOISY)}): ${loads.join('; ')}.`;
}

/**
 * The several-process columns beside the one process they multiply: req/s of both, the latency
 * and CPU per request of the several (all their processes added up), and the throughput ratio.
 */
function scaleTable(columns: Column[]): string | undefined {
  const scaled = columns.filter((c) => c.scale && c.results.size);
  if (!scaled.length) return undefined;
  const header = ['row'];
  for (const column of scaled) header.push(`${column.scale?.baseline} req/s`, `${column.name} req/s`, 'p50 ms', 'p99 ms', 'CPU ms/req', column.scale?.ratioLabel ?? '');
  const rps = (r: RowResult | undefined) => (!r ? '' : r.failed ? `ERROR ${r.failed}/${r.requests}` : `${formatNumber(r.rps)}${(r.otherLoad ?? 0) > NOISY ? '*' : ''}`);
  const rows: string[][] = [];
  for (const row of ROWS) {
    if (!scaled.some((c) => c.results.has(row.key))) continue;
    const line = [row.label];
    for (const column of scaled) {
      const one = columns.find((c) => c.name === column.scale?.baseline)?.results.get(row.key);
      const several = column.results.get(row.key);
      line.push(rps(one), rps(several));
      if (!several || several.failed) line.push('', '', '', '');
      else line.push(formatMs(several.p50), formatMs(several.p99), several.cpuPerRequest === undefined ? '' : formatMs(several.cpuPerRequest), ratio(several, one, (r) => r.rps));
    }
    rows.push(line);
  }
  const notes = scaled.map((c) =>
    c.scale?.baseline === 'SQLite'
      ? `${c.name}: \`gatehouse serve --workers ${SCALE_PROCESSES}\` (node:cluster, one port) on one SQLite file`
      : `${c.name}: ${SCALE_PROCESSES} \`gatehouse serve\` processes on one database with one issuer; the load generator spreads its connections over their ports`,
  );
  return `Several processes (CPU ms/req adds up all of them; * marks more than ${percent(NOISY)} other load):\n\n${markdownTable(header, rows, header.map((_, i) => i > 0))}\n\n${notes.map((n) => `- ${n}`).join('\n')}`;
}

/**
 * What the machine allows: the CPUs the one-process row kept busy (server and load generator) and
 * so the most that more processes could reach on these CPUs if a request cost them no more.
 */
function ceiling(one: RowResult): string {
  if (one.cpuPerRequest === undefined || one.loadCpuPerRequest === undefined) return '';
  const cpus = availableParallelism();
  const busy = (one.rps * (one.cpuPerRequest + one.loadCpuPerRequest)) / 1000;
  return `; the one process and the load generator kept ${busy.toFixed(2)} of the ${cpus} CPUs busy (${formatMs(one.cpuPerRequest)} + ${formatMs(one.loadCpuPerRequest)} ms per request), so at the same CPU per request these CPUs allow at most ${(cpus / busy).toFixed(2)}×`;
}

/** PASS/FAIL of the several-process columns that have a goal (2 workers over 1 on the token rows). */
function scaleGoals(columns: Column[]): string[] {
  const goals: string[] = [];
  for (const column of columns) {
    const goal = column.scale?.goal;
    const baseline = columns.find((c) => c.name === column.scale?.baseline);
    if (goal === undefined || !baseline) continue;
    for (const key of WORKERS_GOAL_ROWS) {
      const several = column.results.get(key);
      const one = baseline.results.get(key);
      const label = ROWS.find((r) => r.key === key)?.label ?? key;
      if (!several || !one) continue;
      if (several.failed || one.failed) goals.push(`- FAIL ${label}: ${column.name} / ${baseline.name} — errors, no ratio`);
      else {
        const value = several.rps / one.rps;
        const cpu = several.cpuPerRequest && one.cpuPerRequest ? `; CPU per request ${formatMs(several.cpuPerRequest)} against ${formatMs(one.cpuPerRequest)} ms` : '';
        goals.push(`- ${value >= goal ? 'PASS' : 'FAIL'} ${label}: ${column.name} / ${baseline.name} ${value.toFixed(2)} req/s (goal ≥ ${goal.toFixed(2)})${cpu}${ceiling(one)}${disturbed(several, one)}`);
      }
    }
  }
  return goals;
}

async function main(): Promise<number> {
  const options = parseOptions();
  const poolSize = threadPoolSize();
  const started = new Date();
  const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, UV_THREADPOOL_SIZE ${poolSize}${process.env.UV_THREADPOOL_SIZE ? '' : ' (default)'}`;
  const settings = `${options.durationMs / 1000} s per row (in ${options.rounds} alternating rounds where compared), ${options.connections} connections, batches of ${options.batch}, ${options.signInConcurrency} sign-ins in flight, oidc-provider ${packageVersion('oidc-provider')}, autocannon ${packageVersion('autocannon')}`;
  progress(`Gatehouse benchmark — ${started.toISOString()}\n${machine}\n${settings}\n\n`);

  const rows = ROWS.filter((row) => options.sections.has(row.key));
  const profileArgs = (name: string) => (options.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(options.profile, name)}`] : []);
  // BENCH_SERVER_NODE_FLAGS: Node/V8 flags for the Gatehouse columns' processes alone (to try e.g. heap sizes).
  const gatehouseArgs = (execArgv: string[]) => [...(process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean), ...execArgv];
  /** Opens a column whose processes get --profile's arguments for `folder`, and notes the folder on it. */
  const openProfiled = async (folder: string, open: (execArgv: string[]) => Promise<Column>): Promise<Column> => {
    const column = await open(profileArgs(folder));
    return options.profile ? { ...column, profile: folder } : column;
  };
  /** With --profile: when each row was measured on each profiled column, for bench/profile-compare.ts. */
  const profileWindows: ProfileWindows[] = [];
  const columns: Column[] = [];
  let interferenceResult: Interference | undefined;
  let argon2Result: Argon2Result | undefined;
  let busy: number | undefined;
  process.env.BENCH_TOTP_USERS = options.sections.has('signin-totp') ? '3000' : '0';
  let latencyResults: LatencyResult[] | undefined;
  let footprint: FootprintSection | undefined;
  const needServers = rows.length > 0 || options.sections.has('interference') || options.sections.has('latency');
  try {
    if (!needServers) progress('no rows to measure on the servers');
    else {
      progress('starting Gatehouse (SQLite)');
      columns.push(await openProfiled('gatehouse-sqlite', (execArgv) => openColumn('SQLite', false, startGatehouse('sqlite', gatehouseArgs(execArgv)))));
    }
    // The nodes column is compared with one PostgreSQL node: it brings that column along.
    if (needServers && options.databaseUrl && (options.sections.has('postgres') || options.sections.has('nodes'))) {
      progress(', Gatehouse (PostgreSQL)');
      columns.push(await openProfiled('gatehouse-postgres', (execArgv) => openColumn('PostgreSQL', false, startGatehouse('postgres', gatehouseArgs(execArgv)))));
    }
    if (needServers && options.sections.has('reference') && (rows.some((row) => row.compared) || options.sections.has('latency'))) {
      progress(', the reference (bare oidc-provider)');
      columns.push(await openProfiled('reference', (execArgv) => openColumn('reference', true, startReference(execArgv))));
    }
    const gatehouse = columns[0];
    if (gatehouse && options.sections.has('bare-http') && rows.some((row) => row.againstBareHttp)) {
      progress(', a bare node:http server with the same discovery and JWKS bytes');
      columns.push(await openProfiled('bare-http', (execArgv) => openBareHttpColumn(gatehouse, execArgv)));
    }
    const scaleRows = rows.some((row) => SCALE_ROWS.includes(row.key));
    if (scaleRows && options.sections.has('workers')) {
      progress(`, gatehouse serve --workers ${SCALE_PROCESSES} (SQLite)`);
      const column = await openProfiled('gatehouse-workers', (execArgv) => openColumn(`SQLite, ${SCALE_PROCESSES} workers`, false, startScaledGatehouse('workers', SCALE_PROCESSES, execArgv)));
      columns.push({ ...column, scale: { baseline: 'SQLite', ratioLabel: `${SCALE_PROCESSES} workers / 1`, goal: WORKERS_GOAL } });
    }
    if (scaleRows && options.databaseUrl && options.sections.has('nodes')) {
      progress(`, ${SCALE_PROCESSES} Gatehouse nodes on one PostgreSQL`);
      const column = await openProfiled('gatehouse-nodes', (execArgv) => openColumn(`PostgreSQL, ${SCALE_PROCESSES} nodes`, false, startScaledGatehouse('nodes', SCALE_PROCESSES, execArgv)));
      columns.push({ ...column, scale: { baseline: 'PostgreSQL', ratioLabel: `${SCALE_PROCESSES} nodes / 1` } });
    }
    busy = await machineBusy(1000);
    progress(`\nmachine busy before the load (other processes): ${busy === undefined ? 'unknown' : `${formatNumber(100 * busy)}%`}\n`);

    // Row by row, each server in turn, so that the comparison sees the same background load; the
    // argon2 ceiling right after the sign-ins it is compared with.
    // A compared row alternates between the servers in rounds (A B, B A, A B, …), each a share of
    // the duration, and adds the rounds up: a change in background load then hits both alike.
    for (const row of rows) {
      const participants = columns.filter((column) =>
        column.scale ? SCALE_ROWS.includes(row.key) : column.bareHttp ? row.againstBareHttp : !column.reference || row.compared,
      );
      const rounds = participants.length > 1 ? options.rounds : 1;
      const samples = new Map<Column, Sample>();
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? participants : [...participants].reverse();
        for (const column of order) {
          progress(`  ${row.label} · ${column.name}${rounds > 1 ? ` (round ${round + 1}/${rounds})` : ''} … `);
          const sample = await row.run(column.target, column.minter, { ...options, durationMs: options.durationMs / rounds });
          progress(`${describe(summarize(sample))}\n`);
          const before = samples.get(column);
          samples.set(column, before ? mergeSamples(before, sample) : sample);
        }
      }
      for (const [column, sample] of samples) {
        const result = summarize(sample);
        column.results.set(row.key, result);
        if (column.profile && sample.windows) profileWindows.push({ profile: column.profile, column: column.name, row: row.key, requests: result.requests, windows: sample.windows });
        if (rounds > 1) progress(`  ${row.label} · ${column.name}, all rounds: ${describe(result)}\n`);
      }
      if (row.key === 'signin' && options.sections.has('argon2')) argon2Result = await measureArgon2(poolSize, options);
    }
    const sqlite = columns[0];
    if (sqlite && options.sections.has('interference')) interferenceResult = await interference(sqlite.target, sqlite.minter, options);
    if (sqlite && options.sections.has('latency')) {
      const reference = columns.find((column) => column.reference);
      latencyResults = await latencySection(reference ? [sqlite, reference] : [sqlite], options);
    }
  } finally {
    for (const column of columns) await closeColumn(column);
    if (options.profile && profileWindows.length) {
      mkdirSync(options.profile, { recursive: true });
      writeFileSync(join(options.profile, PROFILE_WINDOWS_FILE), `${JSON.stringify(profileWindows)}\n`);
    }
  }
  // With the other servers gone: its own `serve` processes.
  if (options.sections.has('footprint')) footprint = await measureFootprint({ ...options, progress });
  if (options.sections.has('argon2') && !argon2Result) argon2Result = await measureArgon2(poolSize, options);
  const argon2 = argon2Result?.capacity;

  // The report
  let failed = false;
  const out: string[] = [];
  out.push(
    `## Gatehouse benchmark, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- Machine: ${machine}; busy before the load: ${busy === undefined ? 'unknown' : `${formatNumber(100 * busy)}%`}`,
    `- Settings: ${settings}`,
    '',
  );
  if (columns.some((c) => c.results.size)) out.push(mainTable(columns.filter((c) => !c.scale)), '');
  const several = scaleTable(columns);
  if (several) out.push(several, '');
  for (const column of columns) {
    for (const [key, result] of column.results) {
      if (result.failed) {
        failed = true;
        out.push(`- ERRORS in ${column.name} ${key}: ${result.failures.join('; ')}`);
      }
    }
  }
  const signIn = columns[0]?.results.get('signin');
  const referenceSignIn = columns.find((c) => c.reference)?.results.get('signin');
  if (argon2) {
    if (argon2.failed) failed = true;
    out.push(
      `argon2id capacity (@node-rs/argon2, Gatehouse's ARGON2_OPTIONS, ${poolSize} verifies in flight = thread pool size): ` +
        `${formatNumber(argon2.rps, 1)} verifies/s (one verify: p50 ${formatMs(argon2.p50)} ms, ${formatMs(argon2.cpuPerRequest ?? Number.NaN)} ms CPU).`,
    );
    if (signIn && !signIn.failed) {
      out.push(
        `Password sign-ins (SQLite, ${options.signInConcurrency} in flight): ${formatNumber(signIn.rps, 1)}/s = ${formatNumber((100 * signIn.rps) / argon2.rps, 0)}% of argon2 capacity; ` +
          `server CPU per sign-in ${formatMs(signIn.cpuPerRequest ?? Number.NaN)} ms, of which one verify is about ${formatMs(argon2.cpuPerRequest ?? Number.NaN)} ms ` +
          `(so even with the CPUs to itself the server would reach about ${formatNumber((100 * (argon2.cpuPerRequest ?? Number.NaN)) / (signIn.cpuPerRequest ?? Number.NaN), 0)}%).`,
      );
    }
    if (referenceSignIn && !referenceSignIn.failed) {
      out.push(
        `The reference (bare oidc-provider, the same verify through Gatehouse's password code, ${options.signInConcurrency} in flight): ` +
          `${formatNumber(referenceSignIn.rps, 1)} sign-ins/s = ${formatNumber((100 * referenceSignIn.rps) / argon2.rps, 0)}% of argon2 capacity; ` +
          `its CPU per sign-in ${formatMs(referenceSignIn.cpuPerRequest ?? Number.NaN)} ms.`,
      );
    }
    out.push(
      `An RS256 signature (ID tokens; WebCrypto shares libuv's thread pool with argon2) takes ${argon2Result?.signatures
        .map((s) => `${formatMs(s.medianMs)} ms with ${s.inFlight}`)
        .join(', ')} argon2 verifications in flight.`,
      '',
    );
  }
  if (interferenceResult) {
    const { alone, during, signIns, rate } = interferenceResult;
    if (alone.failed || during.failed || signIns.failed) failed = true;
    out.push(
      `Token endpoint (refresh_token) at a steady ${rate} req/s on SQLite — alone: p50 ${formatMs(alone.p50)} ms, p99 ${formatMs(alone.p99)} ms; ` +
        `while ${options.signInConcurrency} sign-ins run (${formatNumber(signIns.rps, 1)} sign-ins/s): p50 ${formatMs(during.p50)} ms, p99 ${formatMs(during.p99)} ms` +
        `${alone.failed || during.failed ? ' (ERRORS)' : ''}.`,
      '',
    );
  }

  const latency = latencyReport(latencyResults ?? []);
  const footprintLines = footprint ? footprintReport(footprint) : undefined;
  out.push(...latency.lines, ...(footprintLines?.lines ?? []));
  if (latency.failed || footprintLines?.failed) failed = true;

  // Goals
  const goals: string[] = [];
  const sqliteResults = columns.find((c) => c.name === 'SQLite')?.results;
  const referenceResults = columns.find((c) => c.reference)?.results;
  if (sqliteResults && referenceResults) {
    for (const row of rows.filter((r) => r.ratioGoal)) {
      const ours = sqliteResults.get(row.key);
      const theirs = referenceResults.get(row.key);
      if (!ours || !theirs) continue;
      if (ours.failed || theirs.failed) goals.push(`- FAIL ${row.label}: SQLite/reference — errors, no ratio`);
      else {
        const value = ours.rps / theirs.rps;
        const cpuRatio = ours.cpuPerRequest && theirs.cpuPerRequest ? `; by CPU per request ${(theirs.cpuPerRequest / ours.cpuPerRequest).toFixed(2)}` : '';
        goals.push(`- ${value >= TOKEN_RATIO_GOAL ? 'PASS' : 'FAIL'} ${row.label}: SQLite/reference ${value.toFixed(2)} req/s (goal ≥ ${TOKEN_RATIO_GOAL.toFixed(2)})${cpuRatio}${disturbed(ours, theirs)}`);
      }
    }
  }
  const bareResults = columns.find((c) => c.bareHttp)?.results;
  if (sqliteResults && bareResults) {
    for (const row of rows.filter((r) => r.againstBareHttp)) {
      const ours = sqliteResults.get(row.key);
      const theirs = bareResults.get(row.key);
      if (!ours || !theirs) continue;
      if (ours.failed || theirs.failed) goals.push(`- FAIL ${row.label}: SQLite/bare node:http — errors, no ratio`);
      else {
        const value = ours.rps / theirs.rps;
        const cpuRatio = ours.cpuPerRequest && theirs.cpuPerRequest ? `; by CPU per request ${(theirs.cpuPerRequest / ours.cpuPerRequest).toFixed(2)}` : '';
        goals.push(`- ${value >= 0.9 ? 'PASS' : 'FAIL'} ${row.label}: SQLite/bare node:http ${value.toFixed(2)} req/s (goal ≥ 0.90)${cpuRatio}${disturbed(ours, theirs)}`);
      }
    }
  }
  if (signIn && referenceSignIn) {
    // Issue 14 restated issue 2's goal as a ratio: the reference runs the same argon2id verify, and on this
    // machine even it stays far below the capacity measured alone (the load generator shares the CPUs).
    const ratio = signIn.rps / referenceSignIn.rps;
    const share = argon2 ? `; ${formatNumber((100 * signIn.rps) / argon2.rps, 0)}% of argon2 capacity (reference ${formatNumber((100 * referenceSignIn.rps) / argon2.rps, 0)}%)` : '';
    const cpuRatio = signIn.cpuPerRequest && referenceSignIn.cpuPerRequest ? `; by CPU per sign-in ${(referenceSignIn.cpuPerRequest / signIn.cpuPerRequest).toFixed(2)}` : '';
    goals.push(
      signIn.failed || referenceSignIn.failed
        ? '- FAIL password sign-ins: errors, no ratio'
        : `- ${ratio >= SIGN_IN_RATIO_GOAL ? 'PASS' : 'FAIL'} password sign-ins/s: SQLite/reference ${ratio.toFixed(2)} (goal ≥ ${SIGN_IN_RATIO_GOAL.toFixed(2)})${cpuRatio}${share}${disturbed(signIn, referenceSignIn)}`,
    );
  }
  goals.push(...scaleGoals(columns), ...latency.goals, ...(footprintLines?.goals ?? []));
  if (goals.length) out.push('Goals:', ...goals, '');
  process.stdout.write(`\n${out.join('\n')}\n`);

  if (options.json) {
    const plain = (results: Map<RowKey, RowResult>) => Object.fromEntries(results);
    const report = {
      date: started.toISOString(),
      machine,
      busyBefore: busy,
      settings,
      columns: Object.fromEntries(columns.map((c) => [c.name, plain(c.results)])),
      argon2: argon2Result,
      interference: interferenceResult,
      latency: latencyResults,
      footprint,
      goals,
    };
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`\nbenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
