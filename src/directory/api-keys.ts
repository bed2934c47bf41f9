import { hash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from '../storage/schema.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import { newObjectId, nowIso } from './ids.ts';
import { PERMISSIONS, type Role, roleAllows } from './roles.ts';
import { type User, type UserStore, toUser } from './users.ts';

/**
 * `scim`: a key for a provisioning client (Entra ID, Okta…), usable only under /scim/v2 and never
 * under /api, so a token pasted into another company's console can do no more than provisioning.
 */
export const API_KEY_SCOPES = ['read_only', 'read_write', 'scim'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * `gh_` and 256 bits in base64url: the prefix lets secret scanners (and people) recognise a leaked
 * key. Only a SHA-256 of the key is stored; with that much entropy a fast hash is enough.
 */
export const API_KEY_PREFIX = 'gh_';
const hashKey = (key: string) => hash('sha256', key, 'base64url');
/** Recording last use costs a write: once a minute per key is precise enough. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface ApiKey {
  id: string;
  name: string;
  /** The owner's role now, so a screen can tell whose keys the caller's role may manage. */
  owner: { id: string; username: string; role: Role | null };
  scope: ApiKeyScope;
  prefix: string;
  expires: string | null;
  last_used: string | null;
  revoked: string | null;
  created: string;
}

export interface ApiKeyPrincipal {
  key: ApiKey;
  owner: User;
  role: Role;
}

type Row = Selectable<ApiKeysTable>;

const toApiKey = (row: Row, owner: ApiKey['owner']): ApiKey => ({
  id: row.id,
  name: row.name,
  owner,
  scope: row.scope as ApiKeyScope,
  prefix: row.prefix,
  expires: row.expires_at,
  last_used: row.last_used_at,
  revoked: row.revoked_at,
  created: row.created_at,
});

export function createApiKeyStore(db: Kysely<Database>, users: UserStore) {
  const withOwners = () =>
    db
      .selectFrom('api_keys')
      .innerJoin('users', 'users.id', 'api_keys.owner_id')
      .selectAll('api_keys')
      .select(['users.username as owner_username', 'users.role as owner_role']);

  return {
    /** The key itself is returned once, here, and never again. */
    async create(input: { owner: string; name: string; scope?: ApiKeyScope | undefined; expires?: string | null | undefined }): Promise<{ apiKey: ApiKey; key: string }> {
      const owner = await users.get(input.owner);
      if (!owner.role) throw new DomainError('api_key.owner_not_admin', 409, `${owner.username} has no administrator role, so an API key of theirs could do nothing.`);
      const name = input.name.trim();
      if (!name || name.length > 128) throw invalid('api_key.invalid_name', 'An API key name has 1-128 characters.', 'name');
      const scope = input.scope ?? 'read_write';
      if (!API_KEY_SCOPES.includes(scope)) throw invalid('api_key.invalid_scope', `Scope must be one of ${API_KEY_SCOPES.join(', ')}.`, 'scope');
      if (scope === 'scim' && !roleAllows(owner.role, 'directory')) {
        throw invalid('api_key.scope_exceeds_role', `${owner.username} has the role ${owner.role}, which may not create users and groups: they cannot own a scim key.`, 'scope');
      }
      let expires: string | null = null;
      if (input.expires != null) {
        const time = Date.parse(input.expires);
        if (Number.isNaN(time)) throw invalid('api_key.invalid_expiry', `"${input.expires}" is not a date and time (ISO 8601).`, 'expires');
        if (time <= Date.now()) throw invalid('api_key.invalid_expiry', 'The expiry must be in the future.', 'expires');
        expires = new Date(time).toISOString();
      }
      const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      const row: Row = {
        id: newObjectId(),
        owner_id: owner.id,
        name,
        scope,
        prefix: key.slice(0, 10),
        key_hash: hashKey(key),
        expires_at: expires,
        last_used_at: null,
        revoked_at: null,
        created_at: nowIso(),
      };
      await db.insertInto('api_keys').values(row).execute();
      return { apiKey: toApiKey(row, { id: owner.id, username: owner.username, role: owner.role }), key };
    },

    async list(filter: { owner?: string | undefined } = {}): Promise<ApiKey[]> {
      let query = withOwners().orderBy('api_keys.created_at', 'desc').orderBy('api_keys.id');
      if (filter.owner) query = query.where('api_keys.owner_id', '=', (await users.get(filter.owner)).id);
      return (await query.execute()).map((row) => toApiKey(row, { id: row.owner_id, username: row.owner_username, role: row.owner_role as Role | null }));
    },

    async get(id: string): Promise<ApiKey> {
      const row = await withOwners().where('api_keys.id', '=', id).executeTakeFirst();
      if (!row) throw notFound('api_key', id);
      return toApiKey(row, { id: row.owner_id, username: row.owner_username, role: row.owner_role as Role | null });
    },

    async revoke(id: string): Promise<ApiKey> {
      const key = await this.get(id);
      if (!key.revoked) await db.updateTable('api_keys').set({ revoked_at: nowIso() }).where('id', '=', id).execute();
      return this.get(id);
    },

    /**
     * The principal behind a presented key, or undefined. A key works only while it is unrevoked and
     * unexpired and its owner is active, unlocked and still an administrator.
     */
    async authenticate(presented: string): Promise<ApiKeyPrincipal | undefined> {
      if (!presented.startsWith(API_KEY_PREFIX) || presented.length > 200) return undefined;
      const row = await db
        .selectFrom('api_keys')
        .innerJoin('users', 'users.id', 'api_keys.owner_id')
        .selectAll('users')
        .select([
          'api_keys.id as key_id',
          'api_keys.name as key_name',
          'api_keys.scope as key_scope',
          'api_keys.prefix as key_prefix',
          'api_keys.expires_at as key_expires_at',
          'api_keys.last_used_at as key_last_used_at',
          'api_keys.revoked_at as key_revoked_at',
          'api_keys.created_at as key_created_at',
        ])
        .where('api_keys.key_hash', '=', hashKey(presented))
        .executeTakeFirst();
      if (!row || row.key_revoked_at) return undefined;
      const now = Date.now();
      if (row.key_expires_at && Date.parse(row.key_expires_at) <= now) return undefined;
      const owner = toUser(row);
      if (owner.state !== 'ACTIVATED' || owner.account_locked || !owner.role || !roleAllows(owner.role, 'read')) return undefined;
      if (!row.key_last_used_at || now - Date.parse(row.key_last_used_at) > LAST_USED_RESOLUTION_MS) {
        await db.updateTable('api_keys').set({ last_used_at: new Date(now).toISOString() }).where('id', '=', row.key_id).execute();
      }
      const key = toApiKey(
        {
          id: row.key_id,
          owner_id: owner.id,
          name: row.key_name,
          scope: row.key_scope,
          prefix: row.key_prefix,
          key_hash: '',
          expires_at: row.key_expires_at,
          last_used_at: row.key_last_used_at,
          revoked_at: null,
          created_at: row.key_created_at,
        },
        { id: owner.id, username: owner.username, role: owner.role },
      );
      return { key, owner, role: owner.role };
    },
  };
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;

/** The widest scope a key may have for an owner with `role`: a role that may only read gets read-only keys. */
export function widestScope(role: Role): ApiKeyScope {
  return PERMISSIONS.some((permission) => permission !== 'read' && roleAllows(role, permission)) ? 'read_write' : 'read_only';
}

/**
 * Creates a key whose scope does not exceed what its owner's role may do, refusing a read_write key
 * for an owner who may only read; without a scope, the widest the role allows.
 */
export async function issueApiKey(
  stores: { users: UserStore; apiKeys: ApiKeyStore },
  input: { owner: string; name: string; scope?: ApiKeyScope | undefined; expires?: string | null | undefined },
): Promise<{ apiKey: ApiKey; key: string }> {
  const owner = await stores.users.get(input.owner);
  if (owner.role && input.scope === 'read_write' && widestScope(owner.role) === 'read_only') {
    throw invalid('api_key.scope_exceeds_role', `${owner.username} has the role ${owner.role}, which may only read: their API keys can only be read_only.`, 'scope');
  }
  const scope = input.scope ?? (owner.role ? widestScope(owner.role) : undefined);
  return stores.apiKeys.create({ owner: owner.id, name: input.name, scope, expires: input.expires });
}
