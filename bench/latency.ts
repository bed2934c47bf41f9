/**
 * The `latency` section: each token row at a steady open-loop rate of half the maximum throughput
 * measured for it in the same run (issue 14, goal 7: p99 < 25 ms). The requests are the rows' own;
 * latency counts from when a request was due (runPaced), so a stall shows in full. Single-use
 * credentials are minted before each window of at most MINT_WINDOW_MS, codes well inside their
 * 60 s lifetime.
 */
import {
  FORM,
  HttpSession,
  type Minter,
  type RowResult,
  type Sample,
  type Target,
  emptySample,
  exchangeCode,
  formatMs,
  formatNumber,
  markdownTable,
  mergeSamples,
  metered,
  refreshGrant,
  runPaced,
  snippet,
  summarize,
} from './lib.ts';

export const LATENCY_KEYS = ['token-code', 'token-refresh', 'userinfo', 'introspection'] as const;
export type LatencyKey = (typeof LATENCY_KEYS)[number];
export const LATENCY_P99_GOAL_MS = 25;
/** The longest stretch run on credentials minted in one go. */
const MINT_WINDOW_MS = 10_000;

export interface LatencyResult {
  key: LatencyKey;
  label: string;
  /** The column's name (SQLite, reference). */
  column: string;
  /** The in-memory reference: shown for comparison, no goal. */
  reference: boolean;
  /** The row's req/s (in this run, or measured just before when the row did not run). */
  maxRps: number;
  measuredHere: boolean;
  rate: number;
  result: RowResult;
}

async function expectOk(promise: Promise<{ status: number; body: string }>, mustContain: string): Promise<void> {
  const { status, body } = await promise;
  if (status !== 200 || !body.includes(mustContain)) throw new Error(`HTTP ${status}: ${snippet(body, 100)}`);
}

/** What one request of the row is, given `count` requests to come: single-use credentials minted now. */
async function prepare(key: LatencyKey, target: Target, minter: Minter, session: HttpSession, count: number): Promise<(index: number) => Promise<void>> {
  switch (key) {
    case 'token-code': {
      const codes = await minter.codes(count);
      return async (index) => {
        const tokens = await exchangeCode(target, session, codes[index] as string);
        if (!tokens.id_token) throw new Error('no id_token');
      };
    }
    case 'token-refresh': {
      const refreshTokens = (await minter.tokens(count)).map((t) => t.refresh_token as string);
      return async (index) => {
        const tokens = await refreshGrant(target, session, refreshTokens[index] as string);
        if (!tokens.refresh_token) throw new Error('no refresh_token');
      };
    }
    case 'userinfo': {
      const accessTokens = (await minter.tokens(20)).map((t) => t.access_token);
      return (index) => expectOk(session.request(target.endpoints.userinfo, { headers: { authorization: `Bearer ${accessTokens[index % accessTokens.length]}` } }), '"sub"');
    }
    case 'introspection': {
      const accessTokens = (await minter.tokens(20)).map((t) => t.access_token);
      return (index) =>
        expectOk(
          session.request(target.endpoints.introspection, {
            method: 'POST',
            headers: { ...FORM, authorization: target.basic },
            body: new URLSearchParams({ token: accessTokens[index % accessTokens.length] as string }).toString(),
          }),
          '"active":true',
        );
    }
  }
}

/** `count` requests of the row at `rate` per second, in windows of freshly minted credentials. */
export async function steadyRate(key: LatencyKey, target: Target, minter: Minter, rate: number, durationMs: number): Promise<RowResult> {
  const session = new HttpSession(undefined, 256);
  try {
    let total: Sample | undefined;
    let left = Math.max(20, Math.round((rate * durationMs) / 1000));
    const perWindow = Math.max(20, Math.round((rate * MINT_WINDOW_MS) / 1000));
    while (left > 0) {
      const count = Math.min(left, perWindow);
      const task = await prepare(key, target, minter, session, count);
      // The server's CPU and other processes' share, as for the rows: a disturbed window shows.
      const window = await metered(target.cpuMs, () => runPaced({ ratePerSecond: rate, count, task }));
      total = total ? mergeSamples(total, window) : window;
      left -= count;
    }
    return summarize(total ?? emptySample());
  } finally {
    session.close();
  }
}

/** The report's lines and goals for the section. */
export function latencyReport(results: LatencyResult[]): { lines: string[]; goals: string[]; failed: boolean } {
  const lines: string[] = [];
  const goals: string[] = [];
  let failed = false;
  if (!results.length) return { lines, goals, failed };
  lines.push(
    markdownTable(
      ['row (open loop)', 'server', 'max req/s', 'steady req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'other processes', 'requests'],
      results.map(({ label, column, maxRps, measuredHere, rate, result }) => [
        label,
        column,
        `${formatNumber(maxRps)}${measuredHere ? ' (measured for this)' : ''}`,
        formatNumber(rate),
        formatMs(result.p50),
        formatMs(result.p99),
        result.cpuPerRequest === undefined ? '' : formatMs(result.cpuPerRequest),
        result.otherLoad === undefined ? '' : `${formatNumber(100 * result.otherLoad)}%`,
        result.failed ? `${result.requests}, ${result.failed} FAILED: ${result.failures.slice(0, 2).join('; ')}` : String(result.requests),
      ]),
      [false, false, true, true, true, true, true, true, true],
    ),
    '',
  );
  for (const { label, result, rate, reference } of results) {
    if (reference) {
      if (result.failed) failed = true;
      continue;
    }
    if (result.failed) {
      failed = true;
      goals.push(`- FAIL ${label} at half load: errors, no p99`);
    } else {
      goals.push(`- ${result.p99 < LATENCY_P99_GOAL_MS ? 'PASS' : 'FAIL'} ${label} at half load (${formatNumber(rate)} req/s): p99 ${formatMs(result.p99)} ms (goal < ${LATENCY_P99_GOAL_MS} ms)`);
    }
  }
  return { lines, goals, failed };
}
