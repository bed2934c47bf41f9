import type { Kysely } from 'kysely';

/**
 * Session ids (the `_session` cookie's value) are no longer kept in clear: the adapter stores them
 * sealed with a key derived from the installation secret (oidc/adapter.ts). The sessions stored
 * before carry their id in clear, and so do interactions begun while signed in (the cookie of
 * their session). They are dropped rather than converted, for two reasons: those ids are already
 * in every backup taken until now, and keeping the sessions alive would keep those copies usable
 * for the sessions' remaining lifetime; and sealing needs the installation secret, which a
 * migration does not have. The cost is that everyone signs in once more after the upgrade (tokens
 * and refresh tokens already issued stay valid; access tokens bound to a session end with it).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('model', 'in', ['Session', 'Interaction']).execute();
}
