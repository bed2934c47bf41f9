import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../db.ts';

/**
 * The payload version (migration 005) guards only what a node remembers: access-token and grant
 * rows. It moved with every consumed code, rotated refresh token and touched session too, so under
 * load the remembered rows were dropped many times a second for changes that can't affect them.
 * Now only a change to, or deletion of, an access token or a grant moves it (revoking a grant
 * deletes both kinds). SQLite only, as migration 005.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  if (dialect !== 'sqlite') return;
  for (const event of ['update', 'delete']) {
    await sql.raw(`drop trigger oidc_payloads_${event}_payload_version`).execute(db);
    await sql
      .raw(
        `create trigger oidc_payloads_${event}_payload_version after ${event} on oidc_payloads when old.model in ('AccessToken', 'Grant') begin update payload_version set version = version + 1 where id = 1; end`,
      )
      .execute(db);
  }
}
