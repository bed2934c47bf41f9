import type { Kysely } from 'kysely';

/**
 * User portal settings per app (issue 11): whether its tile shows in the portal, and whether a launch
 * appends `iss` (OIDC Core §4). Existing apps show in the portal exactly when they have a Login URL,
 * as new apps do by default. `description` already exists (001).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('apps').addColumn('show_in_portal', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('apps').addColumn('send_iss_on_launch', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.updateTable('apps').set({ show_in_portal: 1 }).where('login_url', 'is not', null).execute();
}
