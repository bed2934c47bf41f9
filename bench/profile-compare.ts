/**
 * Where each server's main thread spends its time per request, row by row, side by side: the CPU
 * profiles of `node bench/run.ts --profile DIR`, cut to the windows in which each row was measured
 * (run.ts writes them to DIR/windows.json), divided by the requests answered in them.
 *
 *   node bench/profile-compare.ts DIR [--rows userinfo,introspection] [--top N]
 *
 * A sample's time goes to the code that owns its innermost JavaScript frame (a package, a Node
 * module group, a source file), so native work lands on its caller: SQLite on the storage code
 * that called it, a socket write on node:net. Only the main thread is profiled: the thread pool
 * (RS256 signatures, argon2) and V8's helper threads are not in these figures.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { markdownTable } from './lib.ts';
import { indexProfile, owner, type Profile, type ProfileNode } from './profile-summary.ts';

/** When one row was measured on one profiled column (µs of the profiles' monotonic clock). */
export interface ProfileWindows {
  /** The folder under DIR holding that column's profiles. */
  profile: string;
  column: string;
  row: string;
  requests: number;
  windows: Array<[number, number]>;
}

export const PROFILE_WINDOWS_FILE = 'windows.json';

/** Node's own modules, in the few groups a reader can act on. */
function nodeGroup(url: string): string {
  if (/^node:(internal\/)?(_http|http)/.test(url)) return 'node: HTTP';
  if (/^node:(net|stream|internal\/stream|internal\/streams|internal\/stream_base_commons|buffer|internal\/buffer)/.test(url)) return 'node: sockets and streams';
  if (/^node:internal\/(process\/task_queues|async_local_storage|async_hooks|timers)|^node:(timers|async_hooks)/.test(url)) return 'node: microtasks, timers, async context';
  if (/^node:(internal\/)?crypto/.test(url)) return 'node: crypto';
  if (/^node:(internal\/)?events/.test(url)) return 'node: events';
  return 'node: other';
}

function ownerGroup(url: string): string {
  return url.startsWith('node:') ? nodeGroup(url) : owner(url);
}

/** Milliseconds of main-thread time by owner, and idle, over the samples inside `windows`. */
export function timeInWindows(profile: Profile & { startTime: number }, windows: Array<[number, number]>): { byOwner: Map<string, number>; busy: number; idle: number } {
  const { byId, parent } = indexProfile(profile);
  // Samples come in time order: one pass over the windows, in time order too.
  const sorted = [...windows].sort((a, b) => a[0] - b[0]);
  let at = 0;
  const inside = (t: number) => {
    while (at < sorted.length && t > (sorted[at] as [number, number])[1]) at++;
    const window = sorted[at];
    return window !== undefined && t >= window[0];
  };
  /** The owner of a node: its own URL's, else (native code) its nearest caller's with one. */
  const ownerOf = new Map<number, string>();
  const resolve = (node: ProfileNode): string => {
    const known = ownerOf.get(node.id);
    if (known) return known;
    const name = node.callFrame.functionName;
    let result: string;
    if (name === '(garbage collector)') result = 'V8: garbage collection';
    else if (name === '(program)') result = 'V8: (program)';
    else if (node.callFrame.url) result = ownerGroup(node.callFrame.url);
    else {
      const up = parent.get(node.id);
      const above = up === undefined ? undefined : byId.get(up);
      result = above && above.callFrame.functionName !== '(root)' ? resolve(above) : 'V8: native';
    }
    ownerOf.set(node.id, result);
    return result;
  };
  const byOwner = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let t = profile.startTime;
  profile.samples.forEach((id, index) => {
    const dt = profile.timeDeltas[index] ?? 0;
    t += dt;
    if (!inside(t)) return;
    const node = byId.get(id);
    if (!node) return;
    const ms = dt / 1000;
    if (node.callFrame.functionName === '(idle)') {
      idle += ms;
      return;
    }
    busy += ms;
    const key = resolve(node);
    byOwner.set(key, (byOwner.get(key) ?? 0) + ms);
  });
  return { byOwner, busy, idle };
}

function profilesIn(dir: string): Array<Profile & { startTime: number }> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  } catch {
    return [];
  }
  return files.map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Profile & { startTime: number });
}

/** One row's table: µs per request by owner for each profiled column, largest first. */
export function compareRow(dir: string, entries: ProfileWindows[], top: number): string {
  const columns = entries.map((entry) => {
    const totals = new Map<string, number>();
    let busy = 0;
    let idle = 0;
    // Several processes (workers, nodes) share the row's requests: their time adds up.
    for (const profile of profilesIn(join(dir, entry.profile))) {
      const part = timeInWindows(profile, entry.windows);
      for (const [key, ms] of part.byOwner) totals.set(key, (totals.get(key) ?? 0) + ms);
      busy += part.busy;
      idle += part.idle;
    }
    const perRequest = (ms: number) => (entry.requests ? (1000 * ms) / entry.requests : Number.NaN);
    return { entry, totals, busy: perRequest(busy), idle: perRequest(idle), perRequest };
  });
  const keys = new Set(columns.flatMap((column) => [...column.totals.keys()]));
  const first = columns[0];
  const last = columns[columns.length - 1];
  const spread = (key: string) => Math.max(...columns.map((c) => c.perRequest(c.totals.get(key) ?? 0))) - Math.min(...columns.map((c) => c.perRequest(c.totals.get(key) ?? 0)));
  const ordered = [...keys].sort((a, b) => spread(b) - spread(a) || a.localeCompare(b));
  const shown = ordered.slice(0, top);
  const rest = ordered.slice(top);
  const cell = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');
  type ColumnTimes = (typeof columns)[number];
  /** A line of the table; with two columns, their difference last. */
  const line = (label: string, pick: (c: ColumnTimes) => number) => {
    const cells = [label, ...columns.map((c) => cell(pick(c)))];
    return columns.length === 2 && first && last ? [...cells, cell(pick(first) - pick(last))] : cells;
  };
  const body = [
    ...shown.map((key) => line(key, (c) => c.perRequest(c.totals.get(key) ?? 0))),
    ...(rest.length ? [line(`${rest.length} others`, (c) => c.perRequest(rest.reduce((sum, key) => sum + (c.totals.get(key) ?? 0), 0)))] : []),
    line('**main thread busy**', (c) => c.busy),
    line('main thread idle', (c) => c.idle),
  ];
  const headers = ['µs per request', ...columns.map((c) => `${c.entry.column} (${c.entry.requests} req)`), ...(columns.length === 2 ? ['difference'] : [])];
  return markdownTable(headers, body, [false, ...columns.map(() => true), ...(columns.length === 2 ? [true] : [])]);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { rows: { type: 'string' }, top: { type: 'string' } } });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: node bench/profile-compare.ts DIR [--rows a,b] [--top N]');
  const all = JSON.parse(readFileSync(join(dir, PROFILE_WINDOWS_FILE), 'utf8')) as ProfileWindows[];
  const wanted = values.rows?.split(',');
  const rows = [...new Set(all.map((entry) => entry.row))].filter((row) => !wanted || wanted.includes(row));
  for (const row of rows) {
    process.stdout.write(`### ${row}\n\n${compareRow(dir, all.filter((entry) => entry.row === row), Number(values.top ?? 14))}\n\n`);
  }
}
