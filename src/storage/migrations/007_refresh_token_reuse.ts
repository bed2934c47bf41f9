import type { Kysely } from 'kysely';

/**
 * Refresh-token reuse grace (oidc/refresh-grace.ts): each app's interval, 0 (strict, as before) by
 * default, and the rotations remembered for it. A remembered rotation is keyed by a hash of the
 * refresh token it consumed; `response` is the token response sealed with a key that needs that
 * token too, so the table holds nothing usable. A row without a response is a rotation under way.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('apps').addColumn('refresh_token_reuse_interval', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('refresh_token_rotations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('response', 'text')
    .addColumn('expires_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('refresh_token_rotations_expires').on('refresh_token_rotations').column('expires_at').execute();
}
