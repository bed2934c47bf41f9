import type { Insertable, Kysely, Selectable } from 'kysely';
import type { WriteFn } from '../storage/read.ts';
import type { AuditEventsTable, Database } from '../storage/schema.ts';
import { DomainError, invalid } from './errors.ts';
import { newObjectId, nowIso } from './ids.ts';

/** Who did something: a signed-in administrator, an API key, the command line, or Gatehouse itself. */
export interface Actor {
  type: 'user' | 'api_key' | 'cli' | 'system' | 'anonymous';
  id?: string | undefined;
  name?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface AuditTarget {
  type: string;
  id?: string | undefined;
  name?: string | undefined;
}

export interface AuditEventInput {
  action: string;
  target?: AuditTarget | undefined;
  outcome?: 'success' | 'failure';
  /** Facts about the event (a failure's reason, changed field names): never a secret or a token. */
  details?: Record<string, unknown> | undefined;
}

export interface AuditEvent {
  id: string;
  time: string;
  actor: { type: Actor['type']; id: string | null; name: string | null };
  action: string;
  target: { type: string; id: string | null; name: string | null } | null;
  source_ip: string | null;
  user_agent: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
}

export interface AuditQuery {
  since?: string | undefined;
  until?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  target?: string | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

const toEvent = (row: Selectable<AuditEventsTable>): AuditEvent => ({
  id: row.id,
  time: row.time,
  actor: { type: row.actor_type as Actor['type'], id: row.actor_id, name: row.actor_name },
  action: row.action,
  target: row.target_type ? { type: row.target_type, id: row.target_id, name: row.target_name } : null,
  source_ip: row.source_ip,
  user_agent: row.user_agent,
  outcome: row.outcome as AuditEvent['outcome'],
  details: JSON.parse(row.details) as Record<string, unknown>,
});

function checkTime(value: string | undefined, path: string): string | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw invalid('audit.invalid_time', `"${value}" is not a date and time (ISO 8601).`, path);
  return new Date(time).toISOString();
}

const AUDIT_COLUMNS = ['id', 'time', 'actor_type', 'actor_id', 'actor_name', 'action', 'target_type', 'target_id', 'target_name', 'source_ip', 'user_agent', 'outcome', 'details'] as const;
const INSERT_AUDIT_SQL = `insert into audit_events (${AUDIT_COLUMNS.join(', ')}) values (${AUDIT_COLUMNS.map(() => '?').join(', ')})`;

/**
 * The audit log over a database handle or a transaction. `write`, the storage's group-committed
 * write path, is for the log outside any transaction: events recorded on their own (token issues,
 * sign-ins, refusals) then share commits with the protocol's writes instead of one commit each.
 */
export function createAuditLog(db: Kysely<Database>, write?: WriteFn) {
  return {
    async record(actor: Actor, event: AuditEventInput): Promise<void> {
      const row: Insertable<AuditEventsTable> = {
        id: newObjectId(),
        time: nowIso(),
        actor_type: actor.type,
        actor_id: actor.id ?? null,
        actor_name: actor.name ?? null,
        action: event.action,
        target_type: event.target?.type ?? null,
        target_id: event.target?.id ?? null,
        target_name: event.target?.name ?? null,
        source_ip: actor.ip ?? null,
        user_agent: actor.userAgent?.slice(0, 512) ?? null,
        outcome: event.outcome ?? 'success',
        details: JSON.stringify(event.details ?? {}),
      };
      if (write) await write(INSERT_AUDIT_SQL, AUDIT_COLUMNS.map((column) => row[column] ?? null));
      else await db.insertInto('audit_events').values(row).execute();
    },

    /** Newest first. `actor` and `target` match an id or a name; `action` an exact action or a `prefix.*`. */
    async list(query: AuditQuery = {}): Promise<{ events: AuditEvent[]; total: number }> {
      const since = checkTime(query.since, 'since');
      const until = checkTime(query.until, 'until');
      let base = db.selectFrom('audit_events');
      if (since) base = base.where('time', '>=', since);
      if (until) base = base.where('time', '<', until);
      if (query.actor) {
        const actor = query.actor;
        base = base.where((eb) => eb.or([eb('actor_id', '=', actor), eb('actor_name', '=', actor)]));
      }
      if (query.target) {
        const target = query.target;
        base = base.where((eb) => eb.or([eb('target_id', '=', target), eb('target_name', '=', target)]));
      }
      if (query.action) {
        base = query.action.endsWith('.*') ? base.where('action', 'like', `${query.action.slice(0, -1)}%`) : base.where('action', '=', query.action);
      }
      const [rows, count] = await Promise.all([
        base
          .selectAll()
          .orderBy('time', 'desc')
          .orderBy('id', 'desc')
          .limit(query.limit ?? 100)
          .offset(query.offset ?? 0)
          .execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { events: rows.map(toEvent), total: Number(count.n) };
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

/**
 * For a change that cannot run inside the audit event's transaction because it takes its own lock
 * (signing-key rotation): makes the change, then records it; a refusal is recorded as a failure
 * with its error code, as Directory.change does.
 */
export async function recordOutcome<T>(
  log: AuditLog,
  actor: Actor,
  action: string,
  work: () => Promise<T>,
  describe: (result: T) => { target?: AuditTarget | undefined; details?: Record<string, unknown> | undefined } = () => ({}),
  attempted?: AuditTarget,
): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    const code = error instanceof DomainError ? error.code : 'internal';
    await log.record(actor, { action, target: attempted, outcome: 'failure', details: { code } }).catch(() => {});
    throw error;
  }
  const { target, details } = describe(result);
  await log.record(actor, { action, target: target ?? attempted, details });
  return result;
}
