import type { Kysely } from 'kysely';
import type { DialectName } from './db.ts';
import { exclusive } from './lock.ts';
import * as initial from './migrations/001_initial.ts';
import * as payloadAccount from './migrations/002_payload_account.ts';
import * as adminApi from './migrations/003_admin_api.ts';
import * as directoryVersion from './migrations/004_directory_version.ts';
import * as payloadVersion from './migrations/005_payload_version.ts';
import * as payloadVersionScope from './migrations/006_payload_version_scope.ts';
import * as refreshTokenReuse from './migrations/007_refresh_token_reuse.ts';
import * as sessionIdsSealed from './migrations/008_session_ids_sealed.ts';
import * as federation from './migrations/009_federation.ts';
import * as appPortal from './migrations/010_app_portal.ts';
import * as sessionActivity from './migrations/011_session_activity.ts';
import * as passwordChangedAt from './migrations/012_password_changed_at.ts';
import * as scim from './migrations/013_scim.ts';
import * as authnFactors from './migrations/014_authn_factors.ts';
import * as webauthn from './migrations/015_webauthn.ts';
import * as appPortalDefaultOn from './migrations/018_app_portal_default_on.ts';
import * as accessPolicies from './migrations/016_access_policies.ts';
import * as lockoutWindow from './migrations/017_lockout_window.ts';
import * as sessionActivityLastSeen from './migrations/019_session_activity_last_seen.ts';
import type { Database } from './schema.ts';

interface Migration {
  version: number;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time
  up(db: Kysely<any>, dialect: DialectName): Promise<void>;
}

/** Forward-only and append-only: a released migration is never edited, a new one is added. */
export const migrations: readonly Migration[] = [
  { version: 1, name: 'initial', up: initial.up },
  { version: 2, name: 'payload_account', up: payloadAccount.up },
  { version: 3, name: 'admin_api', up: adminApi.up },
  { version: 4, name: 'directory_version', up: directoryVersion.up },
  { version: 5, name: 'payload_version', up: payloadVersion.up },
  { version: 6, name: 'payload_version_scope', up: payloadVersionScope.up },
  { version: 7, name: 'refresh_token_reuse', up: refreshTokenReuse.up },
  { version: 8, name: 'session_ids_sealed', up: sessionIdsSealed.up },
  { version: 9, name: 'federation', up: federation.up },
  { version: 10, name: 'app_portal', up: appPortal.up },
  { version: 11, name: 'session_activity', up: sessionActivity.up },
  { version: 12, name: 'password_changed_at', up: passwordChangedAt.up },
  { version: 13, name: 'scim', up: scim.up },
  { version: 14, name: 'authn_factors', up: authnFactors.up },
  { version: 15, name: 'webauthn', up: webauthn.up },
  { version: 16, name: 'access_policies', up: accessPolicies.up },
  { version: 17, name: 'lockout_window', up: lockoutWindow.up },
  { version: 18, name: 'app_portal_default_on', up: appPortalDefaultOn.up },
  { version: 19, name: 'session_activity_last_seen', up: sessionActivityLastSeen.up },
];

export async function migrate(db: Kysely<Database>, dialect: DialectName): Promise<void> {
  // Several nodes may start at once on one database: one migrates, the others wait and find it done.
  await exclusive(db, dialect, 'migrations', async (trx) => {
    await trx.schema
      .createTable('schema_migrations')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .execute();
    const applied = new Set((await trx.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version));
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await migration.up(trx, dialect);
      await trx
        .insertInto('schema_migrations')
        .values({ version: migration.version, name: migration.name, applied_at: new Date().toISOString() })
        .execute();
    }
  });
}
