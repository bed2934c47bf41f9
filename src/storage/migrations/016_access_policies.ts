import type { Kysely } from 'kysely';

/**
 * Access policies (issue 12 §3): an ordered list (lowest `position` first) deciding, per sign-in and
 * per single sign-on into an app, whether to allow, require MFA, or deny. Chosen apps and groups are
 * join tables so that deleting an app or a group takes it out of every policy. `mfa_requirements`
 * keeps when a policy first required MFA of a person who had no factor: their enrolment grace
 * period is counted from then, on every node.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('access_policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_key', 'text', (c) => c.notNull().unique())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    // 'portal' | 'all_apps' | 'apps' (then access_policy_apps lists them)
    .addColumn('resource', 'text', (c) => c.notNull())
    // 1: everyone; 0: the members of access_policy_groups
    .addColumn('all_users', 'integer', (c) => c.notNull())
    // JSON arrays of CIDR blocks; an empty array is no condition
    .addColumn('addresses_in', 'text', (c) => c.notNull())
    .addColumn('addresses_not_in', 'text', (c) => c.notNull())
    // 'federated' | 'not_federated' | null (either)
    .addColumn('sign_in', 'text')
    // 'allow' | 'require_mfa' | 'deny'
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('grace_days', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('access_policy_apps')
    .addColumn('policy_id', 'text', (c) => c.notNull().references('access_policies.id').onDelete('cascade'))
    .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('access_policy_apps_pk', ['policy_id', 'app_id'])
    .execute();
  await db.schema.createIndex('access_policy_apps_app').on('access_policy_apps').column('app_id').execute();

  await db.schema
    .createTable('access_policy_groups')
    .addColumn('policy_id', 'text', (c) => c.notNull().references('access_policies.id').onDelete('cascade'))
    .addColumn('group_id', 'text', (c) => c.notNull().references('user_groups.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('access_policy_groups_pk', ['policy_id', 'group_id'])
    .execute();
  await db.schema.createIndex('access_policy_groups_group').on('access_policy_groups').column('group_id').execute();

  await db.schema
    .createTable('mfa_requirements')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('policy_id', 'text', (c) => c.notNull().references('access_policies.id').onDelete('cascade'))
    .addColumn('first_required_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('mfa_requirements_pk', ['user_id', 'policy_id'])
    .execute();
}
