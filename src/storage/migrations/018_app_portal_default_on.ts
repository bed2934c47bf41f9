import type { Kysely } from 'kysely';

/**
 * "Show in User Portal" is on by default for every app (issue 11), not only for apps created with a
 * Login URL: an app without one shows no tile anyway, and then shows it as soon as one is set. Apps
 * that 010 left off for lack of a Login URL get the new default.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.updateTable('apps').set({ show_in_portal: 1 }).where('login_url', 'is', null).execute();
}
