/**
 * The API's shapes, as named aliases of the types generated from its OpenAPI document
 * (web/src/api-types.ts, from the route schemas in src/http/routes/api/), and the console's own
 * labels and helpers for them.
 */
import type { paths, Schemas } from './api.ts';

/** What a successful (200 or 201) JSON answer of `method` on `path` holds. */
export type ResponseBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { 'application/json': infer T } } }
    ? T
    : R extends { 201: { content: { 'application/json': infer T } } }
      ? T
      : never
  : never;

/** What `method` on `path` takes as its JSON body. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer T } };
}
  ? T
  : never;

export type User = Schemas['User'];
export type Role = NonNullable<User['role']>;
export type UserState = User['state'];
export type Group = Schemas['UserGroup'];
export type App = Schemas['App'];
export type AuthMethod = App['auth_method'];
export type ApiKey = Schemas['ApiKey'];
export type SigningKey = Schemas['SigningKey'];
export type AuditEvent = Schemas['AuditEvent'];
export type Settings = Schemas['Settings'];
export type IdentityProvider = Schemas['IdentityProvider'];
export type IdentityProviderType = IdentityProvider['type'];
export type UpstreamClientAuth = IdentityProvider['client_auth'];
export type FirstLoginMode = IdentityProvider['first_login'];
export type IdentityProviderTestResult = Schemas['IdentityProviderTestResult'];
export type RoutingPolicy = Schemas['RoutingPolicy'];
/** A stored link between an upstream identity and a user (entra: `issuer` is the tenant id, `subject` the object id). */
export type IdentityLink = Schemas['IdentityLink'];

/** GET /api/me: who is calling, their role and what this credential may do. */
export type Me = ResponseBody<'/api/me', 'get'>;
/** What a credential may do (src/directory/roles.ts). */
export type Permission = Me['permissions'][number];
/** GET /api/users/{id}/identities */
export type UserIdentities = ResponseBody<'/api/users/{id}/identities', 'get'>;

/** What POST /api/apps takes (PATCH /api/apps/{id}: any of it). */
export type AppInput = RequestBody<'/api/apps', 'post'>;
/** What POST /api/identity-providers takes (PATCH: any of it but `type`; a client_secret given replaces the stored one). */
export type IdentityProviderInput = RequestBody<'/api/identity-providers', 'post'>;
export type RoutingPolicyInput = RequestBody<'/api/routing-policies/{id}', 'patch'>;

/** A page of a list: `limit` and `offset` as asked, `total` counting every match. */
export interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

/** An unpaged list: GET /api/identity-providers and /api/routing-policies. */
export interface ListOf<T> {
  data: T[];
  total: number;
}

export const ROLES = ['administrator_with_billing', 'administrator', 'manager', 'help_desk', 'read_only'] as const satisfies readonly Role[];
export const ROLE_LABELS: Record<Role, string> = {
  administrator_with_billing: 'Administrator with Billing',
  administrator: 'Administrator',
  manager: 'Manager',
  help_desk: 'Help Desk',
  read_only: 'Read Only',
};

/**
 * Whether `own` holds every permission of `other`, which the server asks before anyone changes an
 * administrator, hands out a role or revokes another's API key. The roles nest, most powerful first
 * (src/directory/roles.ts), so that is their order. Used only to leave out controls the server would refuse.
 */
export const roleCovers = (own: Role, other: Role): boolean => ROLES.indexOf(own) <= ROLES.indexOf(other);

export const AUTH_METHOD_LABELS: Record<AuthMethod, string> = {
  client_secret_basic: 'Client Secret Basic',
  client_secret_post: 'Client Secret Post',
  none: 'Public (None PKCE)',
};

export type MappableField = NonNullable<Schemas['AttributeMapping']['field']>;
export const MAPPABLE_FIELDS = ['id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state'] as const satisfies readonly MappableField[];

/**
 * One claim an app's tokens carry. The document's AttributeMapping has every source's property
 * optional (its if/then rules have no TypeScript form); this is the same shape, one case per source.
 */
export type AttributeMapping =
  | { claim: string; source: 'field'; field: MappableField }
  | { claim: string; source: 'attribute'; attribute: string }
  | { claim: string; source: 'constant'; value: string };

export const IDENTITY_PROVIDER_TYPE_LABELS: Record<IdentityProviderType, string> = { entra: 'Microsoft Entra ID', oidc: 'OpenID Connect' };
export const FIRST_LOGIN_LABELS: Record<FirstLoginMode, string> = {
  link_existing: 'Link to an existing user with the same verified email',
  create: 'Link, or create the user when nobody matches',
};
