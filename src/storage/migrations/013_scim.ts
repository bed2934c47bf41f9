import type { Kysely } from 'kysely';

/**
 * SCIM provisioning (issue 13): the externalId a provisioning client (Entra ID, Okta…) gives each
 * user and group it manages. Tables of their own rather than columns, so a user or group deleted
 * any other way (API, CLI, console) takes its externalId with it (cascade), and so the domain rows
 * stay as they are. externalId is case-exact (RFC 7643 §3.1) and unique per resource type.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('scim_user_links')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('external_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('scim_user_links_external_id').unique().on('scim_user_links').column('external_id').execute();
  await db.schema
    .createTable('scim_group_links')
    .addColumn('group_id', 'text', (c) => c.primaryKey().references('user_groups.id').onDelete('cascade'))
    .addColumn('external_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('scim_group_links_external_id').unique().on('scim_group_links').column('external_id').execute();
}
