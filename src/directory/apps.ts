import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import { atomically } from '../storage/lock.ts';
import type { AppsTable, Database } from '../storage/schema.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import { type GroupStore, type PageQuery, likePattern } from './groups.ts';
import { isObjectId, newObjectId, nowIso } from './ids.ts';
import { hashClientSecret, newClientSecret } from './secrets.ts';

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
export const OPTIONAL_SCOPES = ['email', 'profile'] as const;
export type OptionalScope = (typeof OPTIONAL_SCOPES)[number];

/** User fields an attribute mapping may read; custom attributes are named `attributes.NAME`. */
export const MAPPABLE_FIELDS = ['id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state'] as const;
export type MappableField = (typeof MAPPABLE_FIELDS)[number];

/** Claims whose meaning the protocol fixes: a mapping must not overwrite them. */
const RESERVED_CLAIMS = new Set([
  'iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'auth_time', 'acr', 'amr', 'azp', 'at_hash', 'c_hash',
  's_hash', 'sid', 'scope', 'client_id', 'cnf', 'events', 'token_type', 'active', '_claim_names', '_claim_sources',
]);

export const DEFAULT_REFRESH_TOKEN_TTL = 30 * 24 * 3600;
export const MAX_REFRESH_TOKEN_TTL = 90 * 24 * 3600;
export const MAX_ICON_BYTES = 256 * 1024;
/** The longest refresh-token reuse interval, in seconds: long enough for a retry or a second tab, no longer. */
export const MAX_REFRESH_TOKEN_REUSE_INTERVAL = 60;
/** A portal tile shows the description: short enough to read at a glance. */
export const MAX_DESCRIPTION_LENGTH = 500;

export type AttributeMapping =
  | { claim: string; source: 'field'; field: MappableField }
  | { claim: string; source: 'attribute'; attribute: string }
  | { claim: string; source: 'constant'; value: string };

export interface AppIcon {
  mediaType: 'image/png' | 'image/svg+xml';
  base64: string;
}

export interface App {
  id: string;
  label: string;
  description: string;
  icon: AppIcon | null;
  active: boolean;
  client_id: string;
  has_client_secret: boolean;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  login_url: string | null;
  auth_method: AuthMethod;
  refresh_token: boolean;
  scopes: OptionalScope[];
  attribute_mapping: AttributeMapping[];
  groups_claim: string | null;
  refresh_token_ttl: number;
  refresh_token_reuse_interval: number;
  show_in_portal: boolean;
  send_iss_on_launch: boolean;
  created: string;
  updated: string;
}

export interface AppInput {
  label: string;
  description?: string | undefined;
  icon?: AppIcon | null | undefined;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[] | undefined;
  login_url?: string | null | undefined;
  auth_method?: AuthMethod | undefined;
  refresh_token?: boolean | undefined;
  scopes?: OptionalScope[] | undefined;
  attribute_mapping?: AttributeMapping[] | undefined;
  groups_claim?: string | null | undefined;
  refresh_token_ttl?: number | undefined;
  refresh_token_reuse_interval?: number | undefined;
  /** Default at creation: on exactly when the app has a Login URL. */
  show_in_portal?: boolean | undefined;
  send_iss_on_launch?: boolean | undefined;
}

export type AppRow = Selectable<AppsTable>;

export function toApp(row: AppRow): App {
  return {
    id: row.id,
    label: row.label,
    description: row.description,
    icon: row.icon ? (JSON.parse(row.icon) as AppIcon) : null,
    active: row.active === 1,
    client_id: row.client_id,
    has_client_secret: row.client_secret_hash !== null,
    redirect_uris: JSON.parse(row.redirect_uris) as string[],
    post_logout_redirect_uris: JSON.parse(row.post_logout_redirect_uris) as string[],
    login_url: row.login_url,
    auth_method: row.auth_method as AuthMethod,
    refresh_token: row.refresh_token === 1,
    scopes: JSON.parse(row.scopes) as OptionalScope[],
    attribute_mapping: JSON.parse(row.attribute_map) as AttributeMapping[],
    groups_claim: row.groups_claim,
    refresh_token_ttl: row.refresh_token_ttl,
    refresh_token_reuse_interval: row.refresh_token_reuse_interval,
    show_in_portal: row.show_in_portal === 1,
    send_iss_on_launch: row.send_iss_on_launch === 1,
    created: row.created_at,
    updated: row.updated_at,
  };
}

/** Redirect URIs are compared exactly, so they must be absolute and carry no fragment (RFC 6749 §3.1.2). */
function checkUri(value: string, path: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('app.invalid_uri', `${what} "${value}" is not an absolute URL.`, path);
  }
  if (value.includes('#')) throw invalid('app.invalid_uri', `${what} "${value}" must not contain a fragment (#).`, path);
  if (!['https:', 'http:'].includes(url.protocol) && !/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) {
    throw invalid('app.invalid_uri', `${what} "${value}" must use https, http, or a reverse-domain private scheme.`, path);
  }
  if (value.length > 2000) throw invalid('app.invalid_uri', `${what} is longer than 2000 characters.`, path);
  return value;
}

/**
 * Redirect URIs are matched exactly, never as patterns: a `*` would never match what an app sends,
 * and reads as a wildcard that some other servers honour (a well-known way to leak codes). Refused.
 */
function checkRedirectUri(value: string, path: string, what: string): string {
  checkUri(value, path, what);
  if (value.includes('*')) throw invalid('app.invalid_uri', `${what} "${value}" must not contain * (redirect URIs are matched exactly, with no wildcards).`, path);
  return value;
}

const LOOPBACK_HOST = /^(localhost|.*\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Plain http:// redirect URIs to a host other than this machine: codes and tokens would cross the
 * network unencrypted. Allowed (a lab, an internal network), but the command line and the console
 * warn about them. Loopback addresses are fine (RFC 8252 §7.3).
 */
export function plainHttpRedirectUris(uris: readonly string[]): string[] {
  return uris.filter((uri) => {
    const url = URL.parse(uri);
    return url?.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname);
  });
}

function checkClaimName(claim: string, path: string): void {
  if (!claim || claim.length > 256 || /\s/.test(claim)) {
    throw invalid('app.invalid_claim', `"${claim}" is not a usable claim name.`, path);
  }
  if (RESERVED_CLAIMS.has(claim)) {
    throw invalid('app.reserved_claim', `The claim "${claim}" is set by the protocol and cannot be mapped.`, path);
  }
}

function validate(input: AppInput, existing?: App): Omit<AppRow, 'id' | 'client_id' | 'client_secret_hash' | 'active' | 'created_at' | 'updated_at'> {
  const label = input.label.trim();
  if (!label || label.length > 128) throw invalid('app.invalid_label', 'A display label has 1-128 characters.', 'label');
  const description = input.description ?? existing?.description ?? '';
  // Checked only when it changes: a longer description stored before the limit stays until edited.
  if (description !== existing?.description) checkDescription(description);
  if (input.redirect_uris.length === 0) throw invalid('app.redirect_uri_required', 'An app needs at least one redirect URI.', 'redirect_uris');
  const redirectUris = [...new Set(input.redirect_uris.map((uri, i) => checkRedirectUri(uri, `redirect_uris[${i}]`, 'Redirect URI')))];
  const postLogout = [
    ...new Set((input.post_logout_redirect_uris ?? existing?.post_logout_redirect_uris ?? []).map((uri, i) => checkRedirectUri(uri, `post_logout_redirect_uris[${i}]`, 'Post-logout redirect URI'))),
  ];
  const loginUrl = input.login_url === undefined ? (existing?.login_url ?? null) : input.login_url;
  if (loginUrl !== null) checkUri(loginUrl, 'login_url', 'Login URL');
  const authMethod = input.auth_method ?? existing?.auth_method ?? 'client_secret_basic';
  if (!AUTH_METHODS.includes(authMethod)) throw invalid('app.invalid_auth_method', `Client authentication must be one of ${AUTH_METHODS.join(', ')}.`, 'auth_method');
  const scopes = [...new Set(input.scopes ?? existing?.scopes ?? [])];
  for (const [i, scope] of scopes.entries()) {
    if (!OPTIONAL_SCOPES.includes(scope)) throw invalid('app.invalid_scope', `Scope "${scope}" is not one of ${OPTIONAL_SCOPES.join(', ')} (openid is always on).`, `scopes[${i}]`);
  }
  const mapping = input.attribute_mapping ?? existing?.attribute_mapping ?? [];
  const claims = new Set<string>();
  for (const [i, entry] of mapping.entries()) {
    checkClaimName(entry.claim, `attribute_mapping[${i}].claim`);
    if (claims.has(entry.claim)) throw invalid('app.duplicate_claim', `The claim "${entry.claim}" is mapped twice.`, `attribute_mapping[${i}].claim`);
    claims.add(entry.claim);
    if (entry.source === 'field' && !MAPPABLE_FIELDS.includes(entry.field)) {
      throw invalid('app.unknown_field', `"${entry.field}" is not a user field (use one of ${MAPPABLE_FIELDS.join(', ')}, or attributes.NAME).`, `attribute_mapping[${i}].field`);
    }
    if (entry.source === 'attribute' && !/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(entry.attribute)) {
      throw invalid('app.unknown_field', `"${entry.attribute}" is not a valid custom attribute name.`, `attribute_mapping[${i}].attribute`);
    }
    if (entry.source === 'constant' && (typeof entry.value !== 'string' || entry.value.length > 1024)) {
      throw invalid('app.invalid_constant', 'A constant is a string of at most 1024 characters.', `attribute_mapping[${i}].value`);
    }
  }
  const groupsClaim = input.groups_claim === undefined ? (existing?.groups_claim ?? null) : input.groups_claim;
  if (groupsClaim !== null) {
    checkClaimName(groupsClaim, 'groups_claim');
    if (claims.has(groupsClaim)) throw invalid('app.duplicate_claim', `The claim "${groupsClaim}" is both mapped and the groups claim.`, 'groups_claim');
  }
  const ttl = input.refresh_token_ttl ?? existing?.refresh_token_ttl ?? DEFAULT_REFRESH_TOKEN_TTL;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_REFRESH_TOKEN_TTL) {
    throw invalid('app.invalid_refresh_token_ttl', 'The refresh-token lifetime is between 1 minute and 90 days.', 'refresh_token_ttl');
  }
  const reuseInterval = input.refresh_token_reuse_interval ?? existing?.refresh_token_reuse_interval ?? 0;
  if (!Number.isInteger(reuseInterval) || reuseInterval < 0 || reuseInterval > MAX_REFRESH_TOKEN_REUSE_INTERVAL) {
    throw invalid('app.invalid_refresh_token_reuse_interval', `The refresh-token reuse interval is a whole number of seconds from 0 to ${MAX_REFRESH_TOKEN_REUSE_INTERVAL}.`, 'refresh_token_reuse_interval');
  }
  const icon = input.icon === undefined ? (existing?.icon ?? null) : input.icon;
  if (icon !== null) checkIcon(icon);
  // On by default: an app shows its tile as soon as it has a Login URL (set now or later), unless an
  // administrator turns it off; with no Login URL there is nowhere to launch, so no tile either way.
  const showInPortal = input.show_in_portal ?? existing?.show_in_portal ?? true;
  if (typeof showInPortal !== 'boolean') throw invalid('app.invalid_show_in_portal', 'Show in User Portal is true or false.', 'show_in_portal');
  const sendIss = input.send_iss_on_launch ?? existing?.send_iss_on_launch ?? true;
  if (typeof sendIss !== 'boolean') throw invalid('app.invalid_send_iss_on_launch', 'Send iss on launch is true or false.', 'send_iss_on_launch');
  return {
    label,
    description,
    icon: icon && JSON.stringify(icon),
    redirect_uris: JSON.stringify(redirectUris),
    post_logout_redirect_uris: JSON.stringify(postLogout),
    login_url: loginUrl,
    auth_method: authMethod,
    refresh_token: (input.refresh_token ?? existing?.refresh_token ?? false) ? 1 : 0,
    scopes: JSON.stringify(scopes),
    attribute_map: JSON.stringify(mapping),
    groups_claim: groupsClaim,
    refresh_token_ttl: ttl,
    refresh_token_reuse_interval: reuseInterval,
    show_in_portal: showInPortal ? 1 : 0,
    send_iss_on_launch: sendIss ? 1 : 0,
  };
}

/** Shown on a portal tile as plain text: bounded, and no control characters (line breaks and tabs included). */
function checkDescription(description: string): void {
  if (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH) {
    throw invalid('app.invalid_description', `A description has at most ${MAX_DESCRIPTION_LENGTH} characters.`, 'description');
  }
  if (/\p{Cc}/u.test(description)) {
    throw invalid('app.invalid_description', 'A description must not contain control characters (line breaks and tabs included).', 'description');
  }
}

function checkIcon(icon: AppIcon): void {
  if (icon.mediaType !== 'image/png' && icon.mediaType !== 'image/svg+xml') {
    throw invalid('app.invalid_icon', 'An icon is a PNG or an SVG image.', 'icon');
  }
  const bytes = Buffer.from(icon.base64, 'base64');
  if (bytes.length === 0 || bytes.length > MAX_ICON_BYTES) {
    throw new DomainError('app.icon_too_large', 413, `An icon is at most ${MAX_ICON_BYTES / 1024} KiB.`, [{ path: 'icon', message: 'too large' }]);
  }
  const isPng = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const isSvg = /<svg[\s>]/i.test(bytes.subarray(0, 4096).toString('utf8'));
  if ((icon.mediaType === 'image/png' && !isPng) || (icon.mediaType === 'image/svg+xml' && !isSvg)) {
    throw invalid('app.invalid_icon', `The icon's content is not a ${icon.mediaType === 'image/png' ? 'PNG' : 'SVG'} image.`, 'icon');
  }
}

export function createAppStore(db: Kysely<Database>, groups: GroupStore) {
  async function getRow(ref: string): Promise<AppRow> {
    const row = await db
      .selectFrom('apps')
      .selectAll()
      .where((eb) => {
        const matches = [eb('client_id', '=', ref), eb('label', '=', ref)];
        if (isObjectId(ref)) matches.push(eb('id', '=', ref));
        return eb.or(matches);
      })
      .orderBy('created_at')
      .execute();
    if (row.length > 1) {
      throw new DomainError('app.ambiguous', 409, `Several apps are labelled "${ref}": use the id or client_id.`);
    }
    if (!row[0]) throw notFound('app', ref);
    return row[0];
  }

  async function setFields(ref: string, changes: Partial<AppRow>): Promise<App> {
    const row = await getRow(ref);
    await db.updateTable('apps').set({ ...changes, updated_at: nowIso() }).where('id', '=', row.id).execute();
    return toApp(await getRow(row.id));
  }

  return {
    /** Returns the one-time client secret beside the app; only its hash is stored. */
    async create(input: AppInput): Promise<{ app: App; clientSecret: string | null }> {
      const fields = validate(input);
      const clientSecret = fields.auth_method === 'none' ? null : newClientSecret();
      const now = nowIso();
      const row: AppRow = {
        ...fields,
        id: newObjectId(),
        client_id: randomUUID(),
        client_secret_hash: clientSecret && hashClientSecret(clientSecret),
        active: 1,
        created_at: now,
        updated_at: now,
      };
      await db.insertInto('apps').values(row).execute();
      return { app: toApp(row), clientSecret };
    },

    async update(ref: string, input: Partial<AppInput>): Promise<App> {
      const existing = toApp(await getRow(ref));
      const fields = validate({ ...existing, ...input } as AppInput, existing);
      const changes: Partial<AppRow> = { ...fields };
      // Turning a public client into a confidential one needs a secret: regenerate-secret issues it.
      if (fields.auth_method === 'none') changes.client_secret_hash = null;
      return setFields(existing.id, changes);
    },

    async list(): Promise<App[]> {
      return (await db.selectFrom('apps').selectAll().orderBy('created_at').execute()).map(toApp);
    },

    async get(ref: string): Promise<App> {
      return toApp(await getRow(ref));
    },

    /** One page in a stable order (label, then id), optionally matching `search` in the label. */
    async page(query: PageQuery): Promise<{ apps: App[]; total: number }> {
      let base = db.selectFrom('apps');
      const term = query.search?.trim().toLowerCase();
      if (term) base = base.where((eb) => eb(eb.fn('lower', ['label']), 'like', sql<string>`${likePattern(term)} escape '\\'`));
      const [rows, count] = await Promise.all([
        base
          .selectAll()
          .orderBy((eb) => eb.fn('lower', ['label']))
          .orderBy('id')
          .limit(query.limit)
          .offset(query.offset)
          .execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { apps: rows.map(toApp), total: Number(count.n) };
    },

    /** Sets (checked: a PNG or SVG of at most MAX_ICON_BYTES) or, with null, removes an app's icon. */
    async setIcon(ref: string, icon: AppIcon | null): Promise<App> {
      if (icon !== null) checkIcon(icon);
      return setFields(ref, { icon: icon && JSON.stringify({ mediaType: icon.mediaType, base64: icon.base64 }) });
    },

    /** The apps a group is bound to, by label. */
    async boundToGroup(groupRef: string): Promise<App[]> {
      const group = await groups.get(groupRef);
      const rows = await db
        .selectFrom('apps')
        .selectAll()
        .where('id', 'in', db.selectFrom('app_bindings').select('app_id').where('group_id', '=', group.id))
        .orderBy((eb) => eb.fn('lower', ['label']))
        .orderBy('id')
        .execute();
      return rows.map(toApp);
    },

    /** The apps a user may sign in to (whatever their state): those bound to one of their groups, by label. */
    async appsOf(userId: string): Promise<App[]> {
      const theirGroups = db
        .selectFrom('user_groups')
        .select('id')
        .where((eb) => eb.or([eb('builtin', '=', 1), eb('id', 'in', eb.selectFrom('group_members').select('group_id').where('user_id', '=', userId))]));
      const rows = await db
        .selectFrom('apps')
        .selectAll()
        .where('id', 'in', db.selectFrom('app_bindings').select('app_id').where('group_id', 'in', theirGroups))
        .orderBy((eb) => eb.fn('lower', ['label']))
        .orderBy('id')
        .execute();
      return rows.map(toApp);
    },

    /** The row behind a client_id, or undefined: the OIDC adapter's hot path. */
    async rowByClientId(clientId: string): Promise<AppRow | undefined> {
      if (clientId.includes('\u0000')) return undefined;
      return db.selectFrom('apps').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    },

    async regenerateSecret(ref: string): Promise<{ app: App; clientSecret: string }> {
      const row = await getRow(ref);
      if (row.auth_method === 'none') {
        throw new DomainError('app.public_client', 409, `"${row.label}" is a public client (auth method none): it has no secret.`);
      }
      const clientSecret = newClientSecret();
      const app = await setFields(row.id, { client_secret_hash: hashClientSecret(clientSecret) });
      return { app, clientSecret };
    },

    activate: (ref: string) => setFields(ref, { active: 1 }),
    deactivate: (ref: string) => setFields(ref, { active: 0 }),

    async delete(ref: string): Promise<App> {
      const row = await getRow(ref);
      await atomically(db, async (trx) => {
        await trx.deleteFrom('app_bindings').where('app_id', '=', row.id).execute();
        await trx.deleteFrom('apps').where('id', '=', row.id).execute();
        // The app's tokens and grants die with it.
        await trx.deleteFrom('oidc_payloads').where('client_id', '=', row.client_id).execute();
      });
      return toApp(row);
    },

    async bind(appRef: string, groupRef: string): Promise<void> {
      const app = await getRow(appRef);
      const group = await groups.get(groupRef);
      await db.insertInto('app_bindings').values({ app_id: app.id, group_id: group.id }).onConflict((oc) => oc.doNothing()).execute();
    },

    async unbind(appRef: string, groupRef: string): Promise<void> {
      const app = await getRow(appRef);
      const group = await groups.get(groupRef);
      const result = await db.deleteFrom('app_bindings').where('app_id', '=', app.id).where('group_id', '=', group.id).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) {
        throw new DomainError('app.not_bound', 404, `"${group.name}" is not bound to "${app.label}".`);
      }
    },

    async boundGroups(appRef: string) {
      const app = await getRow(appRef);
      const rows = await db
        .selectFrom('app_bindings')
        .innerJoin('user_groups', 'user_groups.id', 'app_bindings.group_id')
        .select(['user_groups.id', 'user_groups.name'])
        .where('app_bindings.app_id', '=', app.id)
        .orderBy('user_groups.name_key')
        .execute();
      return rows;
    },
  };
}

export type AppStore = ReturnType<typeof createAppStore>;
