import type { Kysely } from 'kysely';

/**
 * When the person's Gatehouse password was last set (issue 11, the user portal's profile): set by
 * every password set, through the portal, the API or the command line, and when a user is created
 * with one. Existing rows stay null: when their password was set was never recorded.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('password_changed_at', 'text').execute();
}
