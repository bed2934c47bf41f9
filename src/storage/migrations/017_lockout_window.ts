import type { Kysely } from 'kysely';

/**
 * When the person's latest failed sign-in was (issue 12 §4, the lockout window): failures older
 * than the organisation's lockout_window stop counting, so the count needs the time of the last
 * one. Existing rows stay null: a count without a time is treated as stale, as if it were zero.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('last_failed_login_at', 'text').execute();
}
