import type { Kysely } from 'kysely';

/**
 * What oidc-provider's sessions don't keep and a person needs to tell their sessions apart: where
 * and with what each was last used (issue 11, the user portal's Sessions). One row per session,
 * keyed by the session's uid (never its cookie), written at sign-in and touched at most once a
 * minute while the session is used (oidc/sessions.ts); removed with the session, and swept with
 * expired rows once its session is gone (oidc/adapter.ts purgeExpired). Times in epoch seconds.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('session_activity')
    .addColumn('session_uid', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('session_activity_account').on('session_activity').column('account_id').execute();
}
