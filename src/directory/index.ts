import type { Kysely } from 'kysely';
import { atomically } from '../storage/lock.ts';
import type { ReadFn, WriteFn } from '../storage/read.ts';
import type { Database } from '../storage/schema.ts';
import { createAccessResolver } from './access.ts';
import { createApiKeyStore } from './api-keys.ts';
import { createAppStore } from './apps.ts';
import { type Actor, type AuditTarget, createAuditLog } from './audit.ts';
import { DomainError } from './errors.ts';
import { createGroupStore } from './groups.ts';
import { createSettingsStore } from './settings.ts';
import { createUserStore } from './users.ts';
import { createIdentityLinkStore } from '../federation/links.ts';
import { createIdentityProviderStore } from '../federation/providers.ts';
import { createRoutingPolicyStore } from '../federation/routing.ts';
import { createAccessPolicyStore } from '../authn/policies.ts';

/**
 * `read`: the storage's fast read path (storage/db.ts), for the queries of every sign-in. Only for
 * stores outside a transaction: it doesn't see a transaction's connection on PostgreSQL.
 */
function createStores(db: Kysely<Database>, write?: WriteFn, secret?: Buffer, read?: ReadFn) {
  const users = createUserStore(db, undefined, read);
  const groups = createGroupStore(db, users);
  const apps = createAppStore(db, groups);
  const identityProviders = createIdentityProviderStore(db, groups, secret);
  return {
    users,
    groups,
    apps,
    identityProviders,
    routingPolicies: createRoutingPolicyStore(db, groups, identityProviders, read),
    accessPolicies: createAccessPolicyStore(db, groups, apps, undefined, read),
    identityLinks: createIdentityLinkStore(db, users),
    access: createAccessResolver(db),
    apiKeys: createApiKeyStore(db, users),
    audit: createAuditLog(db, write),
    settings: createSettingsStore(db, read),
  };
}

export type DirectoryStores = ReturnType<typeof createStores>;

export interface ChangeDescription {
  target?: AuditTarget | undefined;
  details?: Record<string, unknown> | undefined;
}

/**
 * `write`: the storage's group-committed write path, for audit events recorded outside a change.
 * `secret`: the installation secret, which seals identity providers' client secrets.
 * `read`: the storage's fast read path, for the sign-in's reads (the stores of a change read through its transaction).
 */
export function createDirectory(db: Kysely<Database>, write?: WriteFn, secret?: Buffer, read?: ReadFn) {
  const stores = createStores(db, write, secret, read);
  return {
    ...stores,

    /**
     * Makes a change and writes its audit event in the same transaction, so that no change goes
     * unrecorded and no event records a change that was rolled back. A refused change is recorded
     * too, as a failure with its error code.
     */
    async change<T>(
      actor: Actor,
      action: string,
      work: (directory: DirectoryStores) => Promise<T>,
      describe: (result: T) => ChangeDescription = () => ({}),
      attempted?: AuditTarget,
    ): Promise<T> {
      try {
        return await atomically(db, async (trx) => {
          const scoped = createStores(trx, undefined, secret);
          const result = await work(scoped);
          const { target, details } = describe(result);
          await scoped.audit.record(actor, { action, target: target ?? attempted, details });
          return result;
        });
      } catch (error) {
        const code = error instanceof DomainError ? error.code : 'internal';
        await stores.audit.record(actor, { action, target: attempted, outcome: 'failure', details: { code } }).catch(() => {});
        throw error;
      }
    },
  };
}

export type Directory = ReturnType<typeof createDirectory>;
