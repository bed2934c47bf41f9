import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../db.ts';

/**
 * A second counter, moved by trigger whenever a stored session, code, token or grant is changed or
 * deleted (consumed, revoked, rotated, purged, or removed by the command line): a SQLite node may
 * then answer look-ups of access tokens and grants from memory while it stands. New rows don't move
 * it: they can't make a remembered row wrong. SQLite only, as migration 004.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  if (dialect !== 'sqlite') return;
  await db.schema.createTable('payload_version').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('version', 'integer', (c) => c.notNull()).execute();
  await db.insertInto('payload_version').values({ id: 1, version: 0 }).execute();
  for (const event of ['update', 'delete']) {
    await sql.raw(`create trigger oidc_payloads_${event}_payload_version after ${event} on oidc_payloads begin update payload_version set version = version + 1 where id = 1; end`).execute(db);
  }
}
