import type { Kysely } from 'kysely';

/**
 * Federation (issue 10): upstream identity providers, the routing policies that send members of
 * groups to one of them, the links between upstream identities and users, and the short-lived state
 * of a sign-in under way upstream. A provider's client secret is stored sealed (never in clear).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('identity_providers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_key', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('url', 'text')
    .addColumn('issuer', 'text')
    .addColumn('allowed_tenants', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('verified_domains', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('home_realm_domains', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('client_secret_sealed', 'text')
    .addColumn('client_auth', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('first_login', 'text', (c) => c.notNull())
    .addColumn('jit_groups', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('routing_policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_key', 'text', (c) => c.notNull().unique())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('priority', 'integer', (c) => c.notNull())
    // No cascade: a provider in use by a policy cannot be deleted (identity_provider.in_use).
    .addColumn('identity_provider_id', 'text', (c) => c.notNull().references('identity_providers.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('routing_policies_provider').on('routing_policies').column('identity_provider_id').execute();

  await db.schema
    .createTable('routing_policy_groups')
    .addColumn('policy_id', 'text', (c) => c.notNull().references('routing_policies.id').onDelete('cascade'))
    .addColumn('group_id', 'text', (c) => c.notNull().references('user_groups.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('routing_policy_groups_pk', ['policy_id', 'group_id'])
    .execute();
  await db.schema.createIndex('routing_policy_groups_group').on('routing_policy_groups').column('group_id').execute();

  await db.schema
    .createTable('identity_links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('identity_provider_id', 'text', (c) => c.notNull().references('identity_providers.id').onDelete('cascade'))
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addUniqueConstraint('identity_links_identity', ['identity_provider_id', 'issuer', 'subject'])
    .execute();
  await db.schema.createIndex('identity_links_user').on('identity_links').column('user_id').execute();

  await db.schema
    .createTable('federation_flows')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('federation_flows_expires').on('federation_flows').column('expires_at').execute();
}
