import { nowIso } from '../directory/ids.ts';
import type { Runtime } from '../runtime.ts';
import type { Context } from './command.ts';

/**
 * `gatehouse serve` records the issuer it runs with in the database (a row of the settings table, a
 * key the settings API neither shows nor accepts), so that the apps commands print the issuer apps
 * must trust even when the server was started with another port or GATEHOUSE_ISSUER than the shell
 * running the command has. Stored in the database, it works for PostgreSQL as for SQLite.
 */
const ISSUER_KEY = 'server_issuer';

export async function recordIssuer(runtime: Runtime): Promise<void> {
  const { db } = runtime.storage;
  const value = JSON.stringify(runtime.config.issuer);
  const row = await db.selectFrom('settings').select('value').where('key', '=', ISSUER_KEY).executeTakeFirst();
  // Written only when it changes: running servers watch the settings table's latest change.
  if (row?.value === value) return;
  const now = nowIso();
  await db
    .insertInto('settings')
    .values({ key: ISSUER_KEY, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
    .execute();
}

/**
 * The issuer to print: --issuer or GATEHOUSE_ISSUER when given to this command, else the one the
 * server last recorded, else the configured default (no server has run yet).
 */
export async function displayedIssuer(ctx: Context): Promise<string> {
  const runtime = await ctx.runtime();
  if (ctx.string('issuer') !== undefined || ctx.io.env['GATEHOUSE_ISSUER']) return runtime.config.issuer;
  const row = await runtime.storage.db.selectFrom('settings').select('value').where('key', '=', ISSUER_KEY).executeTakeFirst();
  if (!row) return runtime.config.issuer;
  const recorded: unknown = JSON.parse(row.value);
  return typeof recorded === 'string' && recorded ? recorded : runtime.config.issuer;
}
