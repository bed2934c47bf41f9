import type { AuditEvent } from '../directory/audit.ts';
import { type CommandGroup, type CommandSpec, type Context, table } from './command.ts';

const DURATION = /^(\d+)\s*([smhd])$/;
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A point in time: ISO 8601 as is (the audit log checks it), or a duration meaning that long ago (7d, 12h, 30m). */
function timeOption(ctx: Context, name: string): string | undefined {
  const text = ctx.string(name)?.trim();
  if (text === undefined) return undefined;
  const ago = DURATION.exec(text);
  if (ago) return new Date(Date.now() - Number(ago[1]) * (UNITS[ago[2] ?? 's'] ?? 1) * 1000).toISOString();
  return text;
}

function count(ctx: Context, name: string, min: number, max: number): number | undefined {
  const text = ctx.string(name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw ctx.usage(`--${name} expects a whole number from ${min} to ${max} (got "${text}")`);
  return value;
}

const who = (ref: { type: string; id: string | null; name: string | null }): string => `${ref.type}:${ref.name ?? ref.id ?? '?'}`;
/** A refusal's reason: changes record the error `code`, sign-ins their `reason`. */
const outcome = (event: AuditEvent): string => (event.outcome === 'failure' ? `failure (${String(event.details['code'] ?? event.details['reason'] ?? '?')})` : event.outcome);

const list: CommandSpec = {
  name: 'audit list',
  summary: 'Show the audit log: every change made through the API or the command line, newest first.',
  options: {
    since: { type: 'string', value: 'TIME', description: 'Events at or after TIME: ISO 8601, or a duration ago (7d, 12h, 30m).' },
    until: { type: 'string', value: 'TIME', description: 'Events before TIME: ISO 8601, or a duration ago.' },
    action: { type: 'string', value: 'ACTION', description: 'An action (user.create) or every action under a prefix (user.*).' },
    actor: { type: 'string', value: 'ACTOR', description: 'Actor id or name (an API key is owner/key name; the command line is the system user).' },
    target: { type: 'string', value: 'TARGET', description: 'Target id or name (a username, group name, app label…).' },
    limit: { type: 'string', value: 'N', description: 'At most N events, 1-1000 (default 100).' },
    offset: { type: 'string', value: 'N', description: 'Skip the N newest matching events (default 0).' },
  },
  async run(ctx) {
    const query = {
      since: timeOption(ctx, 'since'),
      until: timeOption(ctx, 'until'),
      action: ctx.string('action'),
      actor: ctx.string('actor'),
      target: ctx.string('target'),
      limit: count(ctx, 'limit', 1, 1000) ?? 100,
      offset: count(ctx, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0,
    };
    const { events, total } = await (await ctx.runtime()).directory.audit.list(query);
    const data = { data: events, total, limit: query.limit, offset: query.offset };
    if (!events.length) return { data, text: total ? `No events at offset ${query.offset} (${total} match).` : 'No matching events.' };
    const rows = events.map((e) => [e.time, who(e.actor), e.action, e.target ? who(e.target) : '-', outcome(e)]);
    const lines = [table(['TIME', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'], rows)];
    const end = query.offset + events.length;
    if (end < total) lines.push(`Events ${query.offset + 1}-${end} of ${total}; see more with --offset ${end}.`);
    else if (query.offset > 0) lines.push(`Events ${query.offset + 1}-${end} of ${total}.`);
    return { data, text: lines.join('\n') };
  },
};

export const auditGroup: CommandGroup = {
  name: 'audit',
  summary: 'Read the audit log.',
  commands: [list],
};
