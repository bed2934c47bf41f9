import type { Kysely } from 'kysely';

/**
 * WebAuthn credentials (issue 12): security keys and passkeys, as a second factor and as a
 * passwordless first factor. `credential_id` and `public_key` are base64url (the public key is COSE);
 * `counter` is the authenticator's signature counter (0 for those that keep none), a regression of
 * which is refused as a sign of a cloned key. `device_type` is 'single_device' (device-bound) or
 * 'multi_device' (synced).
 *
 * `webauthn_challenges` holds the one-time, short-lived challenge of each ceremony under way, bound
 * to what it is for: `key` names the ceremony (a person's registration, a sign-in interaction) and
 * `user_id` the person whose credential must answer (null: any, for a discoverable sign-in).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webauthn_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull())
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'integer', (c) => c.notNull())
    .addColumn('aaguid', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .execute();
  await db.schema.createIndex('webauthn_credentials_user').on('webauthn_credentials').column('user_id').execute();

  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('challenge', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
}
