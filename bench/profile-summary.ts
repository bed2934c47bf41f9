/**
 * Summarises a V8 .cpuprofile (from `node bench/run.ts --profile DIR`): the functions with the most
 * self time, and the most time spent under each source file or package (inclusive, counted once
 * per sample).
 *
 *   node bench/profile-summary.ts FILE.cpuprofile [--top N] [--focus TEXT]
 *
 * --focus keeps only the samples whose stack has a frame matching TEXT (function or URL).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { markdownTable } from './lib.ts';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<package> or src/<path>, else the file name. */
export function owner(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg?.[1]) return pkg[1];
  const own = url.match(/\/(src|bench|test)\/(.*)$/);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return url;
  return url.split('/').slice(-2).join('/');
}

/** The profile's nodes by id, and each node's parent. */
export function indexProfile(profile: Profile): { byId: Map<number, ProfileNode>; parent: Map<number, number> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  return { byId, parent };
}

export function summarizeProfile(profile: Profile, options: { top: number; focus?: string | undefined }) {
  const { byId, parent } = indexProfile(profile);
  const stackOf = (id: number): ProfileNode[] => {
    const stack: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node) stack.push(node);
    }
    return stack;
  };
  const label = (node: ProfileNode) => `${node.callFrame.functionName || '(anonymous)'} ${owner(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, index) => {
    const dt = (profile.timeDeltas[index] ?? 0) / 1000;
    const stack = stackOf(id);
    const leaf = stack[0];
    if (!leaf) return;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    if (options.focus && !stack.some((n) => label(n).includes(options.focus as string))) return;
    total += dt;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + dt);
    for (const key of new Set(stack.map((n) => owner(n.callFrame.url)))) inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  });
  const top = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, options.top)
      .map(([name, ms]) => [name, ms.toFixed(0), `${((100 * ms) / total).toFixed(1)}%`]);
  return { total, idle, self: top(self), inclusive: top(inclusive) };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, focus: { type: 'string' } } });
  const file = positionals[0];
  if (!file) throw new Error('usage: node bench/profile-summary.ts FILE.cpuprofile [--top N] [--focus TEXT]');
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, { top: Number(values.top ?? 25), focus: values.focus });
  process.stdout.write(`busy ${summary.total.toFixed(0)} ms, idle ${summary.idle.toFixed(0)} ms${values.focus ? ` (samples under "${values.focus}")` : ''}\n\n`);
  process.stdout.write(`Self time\n${markdownTable(['function', 'ms', 'share'], summary.self, [false, true, true])}\n\n`);
  process.stdout.write(`Inclusive time by file or package\n${markdownTable(['file / package', 'ms', 'share'], summary.inclusive, [false, true, true])}\n`);
}
