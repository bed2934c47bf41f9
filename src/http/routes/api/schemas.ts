// Brings @fastify/swagger's additions to route schemas (tags, summary) into scope.
import type {} from '@fastify/swagger';
import { settingRange } from '../../../directory/settings.ts';
import { AUTH_METHODS, MAPPABLE_FIELDS, MAX_REFRESH_TOKEN_REUSE_INTERVAL, MAX_REFRESH_TOKEN_TTL, OPTIONAL_SCOPES } from '../../../directory/apps.ts';
/**
 * JSON Schemas shared by the API routes. They validate requests (unknown fields are refused, never
 * dropped), shape responses, and are what /api/openapi.json is generated from.
 */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', description: 'Stable dotted code, e.g. user.not_found' },
    message: { type: 'string' },
    details: {
      type: 'array',
      items: { type: 'object', required: ['path', 'message'], additionalProperties: false, properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const;

export const ROLE_VALUES = ['administrator_with_billing', 'administrator', 'manager', 'help_desk', 'read_only'] as const;

export const userSchema = {
  $id: 'User',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state', 'account_locked', 'has_password', 'attributes', 'role', 'created', 'updated'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    username: { type: 'string' },
    email: { type: 'string' },
    firstname: { type: 'string' },
    lastname: { type: 'string' },
    displayname: { type: 'string' },
    state: { type: 'string', enum: ['STAGED', 'ACTIVATED', 'SUSPENDED'] },
    account_locked: { type: 'boolean' },
    has_password: { type: 'boolean' },
    attributes: { type: 'object', additionalProperties: { type: 'string' } },
    role: { anyOf: [{ type: 'string', enum: ROLE_VALUES }, { type: 'null' }] },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

export const groupSchema = {
  $id: 'UserGroup',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'description', 'builtin', 'created', 'updated'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    name: { type: 'string' },
    description: { type: 'string' },
    builtin: { type: 'boolean', description: 'The built-in All Users group: contains every user, cannot be changed or deleted.' },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/** `limit` (1-1000, default 100) and `offset`; lists are in a stable order. */
export const pageQueryProperties = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
} as const;

export function pageOf<S extends object>(itemRef: S) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'total', 'limit', 'offset'],
    properties: {
      data: { type: 'array', items: itemRef },
      total: { type: 'integer', minimum: 0 },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
    },
  } as const;
}

export const ref = (id: string) => ({ $ref: `${id}#` }) as const;

/** Error responses every authenticated route may give, by status. */
export const errorResponses = {
  400: ref('Error'),
  401: ref('Error'),
  403: ref('Error'),
  404: ref('Error'),
  409: ref('Error'),
  413: ref('Error'),
  415: ref('Error'),
  429: ref('Error'),
} as const;

const claimName = { type: 'string', minLength: 1, maxLength: 256, description: 'Claim name (not one the protocol sets, such as sub or iss).' } as const;

/** With `source` S, the property `only` is required and the other sources' properties are refused. */
const mappingSource = (source: string, only: string, others: readonly string[]) =>
  ({
    if: { type: 'object', required: ['source'], properties: { source: { const: source } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
    then: { type: 'object', required: [only], properties: Object.fromEntries(others.map((name) => [name, { not: {}, description: `not with source ${source}` }])) },
  }) as const;

/**
 * One claim an app's ID tokens and userinfo carry: a user field (`source: field` with `field`), a custom
 * attribute (`source: attribute` with `attribute`) or a constant (`source: constant` with `value`).
 */
export const attributeMappingSchema = {
  $id: 'AttributeMapping',
  type: 'object',
  additionalProperties: false,
  required: ['claim', 'source'],
  properties: {
    claim: claimName,
    source: { type: 'string', enum: ['field', 'attribute', 'constant'] },
    field: { type: 'string', enum: MAPPABLE_FIELDS, description: 'With source field: the user field.' },
    attribute: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$', description: 'With source attribute: the name of the user’s custom attribute.' },
    value: { type: 'string', maxLength: 1024, description: 'With source constant: the value.' },
  },
  allOf: [mappingSource('field', 'field', ['attribute', 'value']), mappingSource('attribute', 'attribute', ['field', 'value']), mappingSource('constant', 'value', ['field', 'attribute'])],
} as const;

/** A custom OpenID Connect app, as the API shows it: never its client secret or the secret's hash. */
export const appSchema = {
  $id: 'App',
  type: 'object',
  additionalProperties: false,
  required: [
    'id', 'label', 'description', 'active', 'client_id', 'has_client_secret', 'redirect_uris', 'post_logout_redirect_uris', 'login_url', 'auth_method',
    'refresh_token', 'scopes', 'attribute_mapping', 'groups_claim', 'refresh_token_ttl', 'refresh_token_reuse_interval', 'show_in_portal',
    'send_iss_on_launch', 'icon_url', 'issuer', 'discovery_url', 'created', 'updated',
  ],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    label: { type: 'string' },
    description: { type: 'string' },
    active: { type: 'boolean', description: 'An inactive app cannot sign anyone in or redeem tokens.' },
    client_id: { type: 'string' },
    has_client_secret: { type: 'boolean', description: 'The secret itself is shown once, when the app is created or its secret regenerated.' },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    post_logout_redirect_uris: { type: 'array', items: { type: 'string' } },
    login_url: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Where the app’s own sign-in starts (for an app launcher).' },
    auth_method: { type: 'string', enum: AUTH_METHODS, description: 'Client authentication at the token endpoint; none is a public client (PKCE, no secret).' },
    refresh_token: { type: 'boolean', description: 'Whether the refresh_token grant (and offline_access) is allowed.' },
    scopes: { type: 'array', items: { type: 'string', enum: OPTIONAL_SCOPES }, description: 'Optional scopes the app may ask for; openid is always on.' },
    attribute_mapping: { type: 'array', items: { $ref: 'AttributeMapping#' } },
    groups_claim: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Claim listing the user’s groups that are bound to this app.' },
    refresh_token_ttl: { type: 'integer', minimum: 60, maximum: MAX_REFRESH_TOKEN_TTL, description: 'Refresh-token lifetime in seconds.' },
    refresh_token_reuse_interval: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_REFRESH_TOKEN_REUSE_INTERVAL,
      description: 'Seconds within which the refresh token just rotated may be presented again for the same new tokens; 0: any reuse revokes the grant.',
    },
    show_in_portal: { type: 'boolean', description: 'Whether the app’s tile shows in the user portal (only with a Login URL).' },
    send_iss_on_launch: { type: 'boolean', description: 'Whether a launch from the portal appends iss=<issuer> to the Login URL (OIDC Core §4).' },
    icon_url: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Where the icon is served (GET /api/apps/{id}/icon), or null without one.' },
    issuer: { type: 'string', description: 'The issuer to configure in the app.' },
    discovery_url: { type: 'string', description: 'The OpenID Connect discovery document to configure in the app.' },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

const nullable = <S extends object>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;

/** An API key as listed: never the key itself or its hash. */
export const apiKeySchema = {
  $id: 'ApiKey',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'owner', 'scope', 'prefix', 'expires', 'last_used', 'revoked', 'created'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    name: { type: 'string' },
    owner: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'username', 'role'],
      properties: {
        id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
        username: { type: 'string' },
        role: { anyOf: [{ type: 'string', enum: ROLE_VALUES }, { type: 'null' }], description: 'The owner’s role now (a key stops working when it is taken away).' },
      },
      description: 'The administrator the key acts as: it has their role, capped by its scope.',
    },
    scope: { type: 'string', enum: ['read_only', 'read_write', 'scim'], description: 'read_only keys may only read, whatever the owner’s role; scim keys serve only SCIM provisioning (/scim/v2).' },
    prefix: { type: 'string', description: 'The first characters of the key, to recognise it.' },
    expires: { ...nullable({ type: 'string', format: 'date-time' }), description: 'When it stops working; null: never.' },
    last_used: { ...nullable({ type: 'string', format: 'date-time' }), description: 'Last use, to the minute.' },
    revoked: { ...nullable({ type: 'string', format: 'date-time' }), description: 'When it was revoked; null while it is not.' },
    created: { type: 'string', format: 'date-time' },
  },
} as const;

/** A signing key's public facts: never its private parts. */
export const signingKeySchema = {
  $id: 'SigningKey',
  type: 'object',
  additionalProperties: false,
  required: ['kid', 'alg', 'state', 'created', 'retire_at'],
  properties: {
    kid: { type: 'string' },
    alg: { type: 'string' },
    state: { type: 'string', enum: ['current', 'next', 'previous'] },
    created: { type: 'string', format: 'date-time' },
    retire_at: { ...nullable({ type: 'string', format: 'date-time' }), description: 'When a previous key stops being published.' },
  },
} as const;

const auditRef = nullable({ type: 'string' });

export const auditEventSchema = {
  $id: 'AuditEvent',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'time', 'actor', 'action', 'target', 'source_ip', 'user_agent', 'outcome', 'details'],
  properties: {
    id: { type: 'string' },
    time: { type: 'string', format: 'date-time' },
    actor: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'id', 'name'],
      properties: { type: { type: 'string', enum: ['user', 'api_key', 'cli', 'system', 'anonymous'] }, id: auditRef, name: auditRef },
      description: 'Who: an API key (named owner/key), the command line (named after the system user), a person or Gatehouse itself.',
    },
    action: { type: 'string', description: 'What, e.g. user.create or api_key.revoke.' },
    target: nullable({ type: 'object', additionalProperties: false, required: ['type', 'id', 'name'], properties: { type: { type: 'string' }, id: auditRef, name: auditRef } }),
    source_ip: auditRef,
    user_agent: auditRef,
    outcome: { type: 'string', enum: ['success', 'failure'] },
    details: { type: 'object', additionalProperties: true, description: 'Facts about the event: changed field names, a failure’s error code. Never a secret.' },
  },
} as const;

const ttl = (name: 'access_token_ttl' | 'id_token_ttl' | 'session_ttl', description: string) => ({ type: 'integer', ...settingRange(name), description }) as const;

export const settingsProperties = {
  organisation_name: { type: 'string', minLength: 1, maxLength: 128, description: 'Shown on the sign-in pages.' },
  access_token_ttl: ttl('access_token_ttl', 'Access-token lifetime in seconds.'),
  id_token_ttl: ttl('id_token_ttl', 'ID-token lifetime in seconds.'),
  session_ttl: ttl('session_ttl', 'Sign-in session lifetime in seconds.'),
  password_min_length: { type: 'integer', ...settingRange('password_min_length'), description: 'Minimum length of passwords set from now on (default 12).' },
  password_reject_personal: {
    type: 'boolean',
    description: "Passwords set from now on may not contain the person's username, email or email local part, nor a part of them of 3 or more characters (400 user.password_personal). On by default.",
  },
  password_reject_common: {
    type: 'boolean',
    description: 'Passwords set from now on may not be one of the ~49,000 most common passwords shipped with Gatehouse, in any case (400 user.password_common). On by default.',
  },
  lockout_threshold: {
    type: 'integer',
    ...settingRange('lockout_threshold'),
    description: 'Failed sign-ins (wrong passwords or second-factor codes) that lock the account until an administrator unlocks it (default 10).',
  },
  lockout_window: {
    type: 'integer',
    ...settingRange('lockout_window'),
    description: 'Seconds after which failures stop counting: when the latest failure is older than this, the count starts again (default 43200, 12 hours).',
  },
  users_may_edit_displayname: { type: 'boolean', description: 'People may change their own display name in the user portal. Off by default.' },
} as const;

export const settingsSchema = {
  $id: 'Settings',
  type: 'object',
  additionalProperties: false,
  required: [
    'organisation_name',
    'access_token_ttl',
    'id_token_ttl',
    'session_ttl',
    'password_min_length',
    'password_reject_personal',
    'password_reject_common',
    'lockout_threshold',
    'lockout_window',
    'users_may_edit_displayname',
  ],
  properties: settingsProperties,
} as const;

export const SHARED_SCHEMAS = [errorSchema, userSchema, groupSchema, attributeMappingSchema, appSchema, apiKeySchema, signingKeySchema, auditEventSchema, settingsSchema] as const;
