import type { Kysely } from 'kysely';

/**
 * The periodic sweep no longer looks every activity row's session up (issue 14): a row goes with its
 * session, and the safety net for the few left behind takes only rows older than any session lives.
 * This index finds those without reading the others.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('session_activity_last_seen').on('session_activity').column('last_seen_at').execute();
}
