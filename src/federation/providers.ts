import { type Kysely, PostgresAdapter, type Selectable, sql } from 'kysely';
import { DomainError, conflict, invalid, notFound } from '../directory/errors.ts';
import type { GroupStore } from '../directory/groups.ts';
import { isObjectId, newObjectId, nowIso } from '../directory/ids.ts';
import { isUniqueViolation } from '../directory/users.ts';
import { deriveKey, seal, unseal } from '../oidc/secret-key.ts';
import { advisoryTransactionLock } from '../storage/lock.ts';
import type { Database, IdentityProvidersTable } from '../storage/schema.ts';
import {
  FIRST_LOGIN_MODES,
  IDENTITY_PROVIDER_TYPES,
  type IdentityProvider,
  type IdentityProviderChanges,
  type IdentityProviderInput,
  type IdentityProviderType,
  UPSTREAM_CLIENT_AUTH_METHODS,
  type UpstreamClientAuth,
  type UpstreamConfiguration,
} from './types.ts';

type ProviderRow = Selectable<IdentityProvidersTable>;

export const DEFAULT_UPSTREAM_SCOPES = 'openid email profile';
/** Entra's multi-tenant endpoints: they need an explicit list of the tenants allowed in. */
export const ENTRA_MULTI_TENANT = ['common', 'organizations'] as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const CONTROL = /\p{Cc}/u;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

const parseList = (text: string): string[] => JSON.parse(text) as string[];

function toProvider(row: ProviderRow): IdentityProvider {
  return {
    id: row.id,
    name: row.name,
    type: row.type as IdentityProviderType,
    enabled: row.enabled === 1,
    url: row.url,
    issuer: row.issuer,
    allowed_tenants: parseList(row.allowed_tenants),
    verified_domains: parseList(row.verified_domains),
    home_realm_domains: parseList(row.home_realm_domains),
    client_id: row.client_id,
    has_client_secret: row.client_secret_sealed !== null,
    client_auth: row.client_auth as UpstreamClientAuth,
    scopes: row.scopes,
    first_login: row.first_login as IdentityProvider['first_login'],
    jit_groups: parseList(row.jit_groups),
    created: row.created_at,
    updated: row.updated_at,
  };
}

/** Where the provider's discovery document is: Entra's under `<url>/v2.0`, a generic issuer's under the issuer. */
export function discoveryUrlOf(provider: Pick<IdentityProvider, 'type' | 'url' | 'issuer'>): string {
  const base = provider.type === 'entra' ? `${provider.url}/v2.0` : (provider.issuer ?? '').replace(/\/$/, '');
  return `${base}/.well-known/openid-configuration`;
}

/** An absolute https URL, or http to this machine (test upstreams); never credentials, a query or a fragment. */
function checkHttpUrl(value: unknown, code: string, path: string, what: string): URL {
  if (typeof value !== 'string' || value.length > 2048 || CONTROL.test(value)) throw invalid(code, `${what} must be an https URL.`, path);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw invalid(code, `"${value}" is not a URL: ${what} must be an https URL.`, path);
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(code, `${what} must use https (plain http only to this machine, for tests).`, path);
  }
  if (url.username || url.password) throw invalid(code, `${what} may not carry a user name or password.`, path);
  if (url.search || url.hash || value.includes('?') || value.includes('#')) throw invalid(code, `${what} may not have a query or a fragment.`, path);
  return url;
}

interface EntraLocation {
  url: string;
  tenant: string;
  multiTenant: boolean;
}

/** `https://login.microsoftonline.com/<tenant>` as the seed says to paste it: one path segment, a tenant GUID or domain. */
function checkEntraUrl(value: unknown): EntraLocation {
  const code = 'identity_provider.invalid_url';
  const url = checkHttpUrl(value, code, 'url', 'The Entra IdP URL');
  const segments = url.pathname.replace(/\/+$/, '').split('/').slice(1);
  if (segments.length !== 1 || !segments[0]) {
    throw invalid(code, 'The Entra IdP URL is https://login.microsoftonline.com/<tenant>: the host, then the tenant id or domain and nothing more.', 'url');
  }
  const tenant = decodeURIComponent(segments[0]).toLowerCase();
  if (tenant === 'consumers') throw invalid(code, 'Personal Microsoft accounts (consumers) cannot be used: give your tenant id or domain.', 'url');
  const multiTenant = (ENTRA_MULTI_TENANT as readonly string[]).includes(tenant);
  if (!multiTenant && !GUID.test(tenant) && !DOMAIN.test(tenant)) {
    throw invalid(code, `"${segments[0]}" is not a tenant: give the tenant id (a GUID) or one of its verified domains.`, 'url');
  }
  return { url: `${url.protocol}//${url.host}/${tenant}`, tenant, multiTenant };
}

function checkIssuer(value: unknown): string {
  checkHttpUrl(value, 'identity_provider.invalid_issuer', 'issuer', 'The issuer');
  // Kept as typed (less surrounding space), not normalised: the ID tokens' iss must equal it exactly.
  return (value as string).trim();
}

function checkStringList(value: unknown, code: string, path: string): string[] {
  if (!Array.isArray(value) || value.length > 100 || value.some((v) => typeof v !== 'string')) throw invalid(code, `${path} is a list of at most 100 strings.`, path);
  return [...new Set((value as string[]).map((v) => v.trim().toLowerCase()))];
}

function checkDomains(value: unknown, path: 'verified_domains' | 'home_realm_domains'): string[] {
  const domains = checkStringList(value, `identity_provider.invalid_${path}`, path);
  for (const domain of domains) {
    if (!DOMAIN.test(domain)) throw invalid(`identity_provider.invalid_${path}`, `"${domain}" is not a domain name (like contoso.com).`, path);
  }
  return domains;
}

function checkTenants(value: unknown): string[] {
  const tenants = checkStringList(value, 'identity_provider.invalid_allowed_tenants', 'allowed_tenants');
  for (const tenant of tenants) {
    if (!GUID.test(tenant)) throw invalid('identity_provider.invalid_allowed_tenants', `"${tenant}" is not a tenant id (a GUID).`, 'allowed_tenants');
  }
  return tenants;
}

function checkName(value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (!name || name.length > 128 || CONTROL.test(name)) throw invalid('identity_provider.invalid_name', 'A name has 1-128 characters.', 'name');
  return name;
}

function checkClientId(value: unknown): string {
  const id = typeof value === 'string' ? value.trim() : '';
  if (!id || id.length > 255 || CONTROL.test(id)) throw invalid('identity_provider.invalid_client_id', 'The client ID has 1-255 characters.', 'client_id');
  return id;
}

function checkClientSecret(value: unknown): string {
  // Not trimmed: a secret is used exactly as given.
  if (typeof value !== 'string' || !value.trim() || value.length > 1024 || CONTROL.test(value)) {
    throw invalid('identity_provider.invalid_client_secret', 'The client secret has 1-1024 characters.', 'client_secret');
  }
  return value;
}

function checkScopes(value: unknown): string {
  const scopes = typeof value === 'string' ? value.trim().split(/\s+/).filter(Boolean) : [];
  if (scopes.length === 0 || scopes.length > 50 || scopes.some((s) => !SCOPE_TOKEN.test(s) || s.length > 128)) {
    throw invalid('identity_provider.invalid_scopes', 'Scopes are space-separated scope names.', 'scopes');
  }
  if (!scopes.includes('openid')) throw invalid('identity_provider.invalid_scopes', 'The scopes must include openid.', 'scopes');
  return [...new Set(scopes)].join(' ');
}

function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T)) throw invalid(`identity_provider.invalid_${field}`, `${field} is one of ${allowed.join(', ')}.`, field);
  return value as T;
}

function checkEnabled(value: unknown): number {
  if (typeof value !== 'boolean') throw invalid('identity_provider.invalid_enabled', 'enabled is true or false.', 'enabled');
  return value ? 1 : 0;
}

/** Refs are an id or a name (any case). */
export function createIdentityProviderStore(db: Kysely<Database>, groups: GroupStore, secret: Buffer | undefined) {
  const sealingKey = secret && deriveKey(secret, 'identity-provider-secrets');
  const sealSecret = (clientSecret: string): string => {
    if (!sealingKey) throw new Error('identity providers need the installation secret to store client secrets');
    return seal(sealingKey, clientSecret);
  };

  async function findRow(ref: string): Promise<ProviderRow | undefined> {
    if (typeof ref !== 'string' || ref.includes('\u0000')) return undefined;
    const key = ref.trim().toLowerCase();
    let query = db.selectFrom('identity_providers').selectAll();
    query = isObjectId(ref) ? query.where((eb) => eb.or([eb('id', '=', ref), eb('name_key', '=', key)])) : query.where('name_key', '=', key);
    return query.executeTakeFirst();
  }

  /**
   * Providers as shown, with only the jit groups that still exist: deleting a group can't reach
   * into the providers' JSON lists, and a first sign-in must not fail on a group that is gone.
   */
  async function present(rows: readonly ProviderRow[]): Promise<IdentityProvider[]> {
    const providers = rows.map(toProvider);
    const wanted = [...new Set(providers.flatMap((p) => p.jit_groups))];
    if (wanted.length === 0) return providers;
    const live = new Set((await db.selectFrom('user_groups').select('id').where('id', 'in', wanted).execute()).map((g) => g.id));
    return providers.map((p) => ({ ...p, jit_groups: p.jit_groups.filter((id) => live.has(id)) }));
  }
  const presentOne = async (row: ProviderRow): Promise<IdentityProvider> => (await present([row]))[0] as IdentityProvider;

  async function getRow(ref: string): Promise<ProviderRow> {
    const row = await findRow(ref);
    if (!row) throw notFound('identity_provider', ref);
    return row;
  }

  async function resolveGroups(value: unknown): Promise<string[]> {
    checkStringList(value, 'identity_provider.invalid_jit_groups', 'jit_groups');
    const ids: string[] = [];
    for (const ref of value as string[]) {
      let group: Awaited<ReturnType<GroupStore['get']>>;
      try {
        group = await groups.get(ref.trim());
      } catch (error) {
        if (error instanceof DomainError && error.code === 'group.not_found') {
          throw invalid('identity_provider.invalid_jit_groups', `No group matches "${ref}".`, 'jit_groups');
        }
        throw error;
      }
      if (group.builtin) throw invalid('identity_provider.invalid_jit_groups', `Everyone is in "${group.name}" already: it cannot be a group new users are added to.`, 'jit_groups');
      if (!ids.includes(group.id)) ids.push(group.id);
    }
    return ids;
  }

  /** A domain rule sends people to one place: a domain may be another provider's rule only once. */
  async function assertDomainsFree(domains: readonly string[], exceptId?: string): Promise<void> {
    if (domains.length === 0) return;
    // The rules live in JSON lists no unique index can see: on PostgreSQL, changes that set domain
    // rules take turns until their transaction ends (SQLite writers take turns already), so two
    // providers created at once can't both claim one domain.
    if (db.getExecutor().adapter instanceof PostgresAdapter) await advisoryTransactionLock(db, 'identity-provider-domain-rules');
    let query = db.selectFrom('identity_providers').select(['name', 'home_realm_domains']);
    if (exceptId) query = query.where('id', '!=', exceptId);
    for (const row of await query.execute()) {
      const taken = parseList(row.home_realm_domains).find((d) => domains.includes(d));
      if (taken) throw conflict('identity_provider.domain_taken', `The domain ${taken} already sends people to "${row.name}".`);
    }
  }

  /** Checks the whole provider as it would be stored; `input` holds only what the caller sent. */
  async function build(type: IdentityProviderType, input: IdentityProviderChanges, current: ProviderRow | undefined): Promise<Omit<ProviderRow, 'id' | 'created_at' | 'updated_at' | 'client_secret_sealed'>> {
    const has = (field: keyof IdentityProviderChanges) => input[field] !== undefined;
    const name = has('name') ? checkName(input.name) : (current?.name as string);
    let url: string | null = null;
    let issuer: string | null = null;
    let allowedTenants: string[] = has('allowed_tenants') ? checkTenants(input.allowed_tenants) : current ? parseList(current.allowed_tenants) : [];
    const verifiedDomains = has('verified_domains') ? checkDomains(input.verified_domains, 'verified_domains') : current ? parseList(current.verified_domains) : [];
    if (type === 'entra') {
      const location = checkEntraUrl(has('url') ? input.url : current?.url);
      url = location.url;
      // Entra's issuers name the tenant by its id: derived only from a tenant id, else learnt by discovery.
      issuer = GUID.test(location.tenant) ? `${location.url}/v2.0` : null;
      // The derived issuer may be sent back as read (a console's whole-object save); another one is a mistake.
      if (has('issuer') && input.issuer !== issuer) {
        throw invalid('identity_provider.invalid_issuer', 'An Entra provider\'s issuer follows from its URL: set the url instead.', 'issuer');
      }
      if (location.multiTenant && allowedTenants.length === 0) {
        throw invalid(
          'identity_provider.invalid_allowed_tenants',
          `"${location.tenant}" lets any Microsoft tenant in: list the tenant ids allowed to sign in (allowed_tenants), or give your own tenant in the URL.`,
          'allowed_tenants',
        );
      }
      if (!location.multiTenant && allowedTenants.length > 0) {
        if (has('url') && !has('allowed_tenants')) allowedTenants = [];
        else throw invalid('identity_provider.invalid_allowed_tenants', 'allowed_tenants apply only to the multi-tenant URLs (common, organizations).', 'allowed_tenants');
      }
    } else {
      if (input.url != null) throw invalid('identity_provider.invalid_url', 'An oidc provider is given by its issuer, not a url.', 'url');
      issuer = checkIssuer(has('issuer') ? input.issuer : current?.issuer);
      if (allowedTenants.length > 0) throw invalid('identity_provider.invalid_allowed_tenants', 'allowed_tenants apply only to Entra providers.', 'allowed_tenants');
      if (verifiedDomains.length > 0) throw invalid('identity_provider.invalid_verified_domains', 'verified_domains apply only to Entra providers (an OpenID provider says email_verified).', 'verified_domains');
    }
    return {
      name,
      name_key: name.toLowerCase(),
      type,
      enabled: has('enabled') ? checkEnabled(input.enabled) : (current?.enabled ?? 1),
      url,
      issuer,
      allowed_tenants: JSON.stringify(allowedTenants),
      verified_domains: JSON.stringify(verifiedDomains),
      home_realm_domains: JSON.stringify(has('home_realm_domains') ? checkDomains(input.home_realm_domains, 'home_realm_domains') : current ? parseList(current.home_realm_domains) : []),
      client_id: has('client_id') ? checkClientId(input.client_id) : (current?.client_id as string),
      client_auth: has('client_auth')
        ? checkOneOf(input.client_auth, UPSTREAM_CLIENT_AUTH_METHODS, 'client_auth')
        : (current?.client_auth ?? (type === 'entra' ? 'client_secret_post' : 'client_secret_basic')),
      scopes: has('scopes') ? checkScopes(input.scopes) : (current?.scopes ?? DEFAULT_UPSTREAM_SCOPES),
      first_login: has('first_login') ? checkOneOf(input.first_login, FIRST_LOGIN_MODES, 'first_login') : (current?.first_login ?? 'link_existing'),
      jit_groups: JSON.stringify(has('jit_groups') ? await resolveGroups(input.jit_groups) : current ? parseList(current.jit_groups) : []),
    };
  }

  function nameTaken(error: unknown, name: string): unknown {
    return isUniqueViolation(error) ? conflict('identity_provider.name_taken', `An identity provider named "${name}" already exists.`) : error;
  }

  return {
    async list(): Promise<IdentityProvider[]> {
      return present(await db.selectFrom('identity_providers').selectAll().orderBy('name_key').execute());
    },

    async get(ref: string): Promise<IdentityProvider> {
      return presentOne(await getRow(ref));
    },

    async byId(id: string): Promise<IdentityProvider | undefined> {
      const row = await db.selectFrom('identity_providers').selectAll().where('id', '=', id).executeTakeFirst();
      return row && presentOne(row);
    },

    async create(input: IdentityProviderInput): Promise<IdentityProvider> {
      const type = checkOneOf(input.type, IDENTITY_PROVIDER_TYPES, 'type');
      if (input.name === undefined) throw invalid('identity_provider.invalid_name', 'A name is required.', 'name');
      if (input.client_id === undefined) throw invalid('identity_provider.invalid_client_id', 'The client ID is required.', 'client_id');
      const clientSecret = checkClientSecret(input.client_secret);
      const fields = await build(type, input, undefined);
      const existing = await findRow(fields.name);
      if (existing) throw conflict('identity_provider.name_taken', `An identity provider named "${fields.name}" already exists.`);
      await assertDomainsFree(parseList(fields.home_realm_domains));
      const now = nowIso();
      const row: ProviderRow = { id: newObjectId(), ...fields, client_secret_sealed: sealSecret(clientSecret), created_at: now, updated_at: now };
      try {
        await db.insertInto('identity_providers').values(row).execute();
      } catch (error) {
        throw nameTaken(error, fields.name);
      }
      return toProvider(row);
    },

    /** Only the fields given change; `type` never does. A client_secret given replaces the stored one. */
    async update(ref: string, changes: IdentityProviderChanges): Promise<IdentityProvider> {
      const current = await getRow(ref);
      if ('type' in changes && (changes as { type?: unknown }).type !== undefined && (changes as { type?: unknown }).type !== current.type) {
        throw invalid('identity_provider.invalid_type', 'The type of a provider cannot change: create another one.', 'type');
      }
      const fields = await build(current.type as IdentityProviderType, changes, current);
      if (fields.name_key !== current.name_key) {
        const clash = await findRow(fields.name);
        if (clash && clash.id !== current.id) throw conflict('identity_provider.name_taken', `An identity provider named "${fields.name}" already exists.`);
      }
      await assertDomainsFree(parseList(fields.home_realm_domains), current.id);
      const row: ProviderRow = {
        ...current,
        ...fields,
        client_secret_sealed: changes.client_secret === undefined ? current.client_secret_sealed : sealSecret(checkClientSecret(changes.client_secret)),
        updated_at: nowIso(),
      };
      try {
        const { id: _id, created_at: _created, ...set } = row;
        await db.updateTable('identity_providers').set(set).where('id', '=', current.id).execute();
      } catch (error) {
        throw nameTaken(error, fields.name);
      }
      return presentOne(row);
    },

    /** Refused (409 identity_provider.in_use) while a routing policy sends people to it; its links go with it. */
    async remove(ref: string): Promise<IdentityProvider> {
      const row = await getRow(ref);
      const policy = await db.selectFrom('routing_policies').select('name').where('identity_provider_id', '=', row.id).orderBy('name_key').executeTakeFirst();
      if (policy) throw conflict('identity_provider.in_use', `The routing policy "${policy.name}" sends people to "${row.name}": change or delete it first.`);
      await db.deleteFrom('identity_links').where('identity_provider_id', '=', row.id).execute();
      await db.deleteFrom('identity_providers').where('id', '=', row.id).execute();
      return presentOne(row);
    },

    /** For the sign-in leg and the connection test only: the provider with its secret in clear. Never serialise it. */
    async upstream(ref: string): Promise<UpstreamConfiguration> {
      const row = await getRow(ref);
      if (!sealingKey) throw new Error('identity providers need the installation secret to read client secrets');
      if (row.client_secret_sealed === null) throw new DomainError('identity_provider.no_client_secret', 409, `"${row.name}" has no client secret.`);
      const provider = await presentOne(row);
      return { provider, clientSecret: unseal(sealingKey, row.client_secret_sealed), discoveryUrl: discoveryUrlOf(provider) };
    },

    /** The enabled provider whose domain rules include this email domain (or domain), if any. */
    async byHomeRealmDomain(domain: string): Promise<IdentityProvider | undefined> {
      const key = domain.trim().toLowerCase().replace(/^.*@/, '');
      if (!key || !DOMAIN.test(key)) return undefined;
      // The lists are short JSON arrays; a LIKE narrows the rows, the exact check is done here.
      const rows = await db
        .selectFrom('identity_providers')
        .selectAll()
        .where('enabled', '=', 1)
        .where('home_realm_domains', 'like', sql<string>`${`%"${key}"%`}`)
        .orderBy('name_key')
        .execute();
      const row = rows.find((r) => parseList(r.home_realm_domains).includes(key));
      return row && presentOne(row);
    },
  };
}

export type IdentityProviderStore = ReturnType<typeof createIdentityProviderStore>;
