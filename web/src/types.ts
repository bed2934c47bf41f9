/** The API's shapes (src/http/routes/api/schemas.ts is the source of truth; /api/openapi.json documents them). */
export const ROLES = ['administrator_with_billing', 'administrator', 'manager', 'help_desk', 'read_only'] as const;
export type Role = (typeof ROLES)[number];
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

/** What a credential may do (src/directory/roles.ts). */
export type Permission = 'read' | 'helpdesk' | 'directory' | 'security' | 'settings';

export type UserState = 'STAGED' | 'ACTIVATED' | 'SUSPENDED';

export interface User {
  id: string;
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  displayname: string;
  state: UserState;
  account_locked: boolean;
  has_password: boolean;
  attributes: Record<string, string>;
  role: Role | null;
  created: string;
  updated: string;
}

export interface Me {
  user: User;
  role: Role;
  permissions: Permission[];
  credential: 'api_key' | 'console_session';
}

export interface Group {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  created: string;
  updated: string;
}

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';
export const AUTH_METHOD_LABELS: Record<AuthMethod, string> = {
  client_secret_basic: 'Client Secret Basic',
  client_secret_post: 'Client Secret Post',
  none: 'Public (None PKCE)',
};
export const MAPPABLE_FIELDS = ['id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state'] as const;
export type MappableField = (typeof MAPPABLE_FIELDS)[number];

export type AttributeMapping =
  | { claim: string; source: 'field'; field: MappableField }
  | { claim: string; source: 'attribute'; attribute: string }
  | { claim: string; source: 'constant'; value: string };

export interface App {
  id: string;
  label: string;
  description: string;
  active: boolean;
  client_id: string;
  has_client_secret: boolean;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  login_url: string | null;
  auth_method: AuthMethod;
  refresh_token: boolean;
  scopes: ('email' | 'profile')[];
  attribute_mapping: AttributeMapping[];
  groups_claim: string | null;
  refresh_token_ttl: number;
  refresh_token_reuse_interval: number;
  /** The app's tile shows in the user portal (when it has a Login URL). */
  show_in_portal: boolean;
  /** A launch from the portal appends iss=<issuer> to the Login URL. */
  send_iss_on_launch: boolean;
  icon_url: string | null;
  issuer: string;
  discovery_url: string;
  created: string;
  updated: string;
}

/** What POST /api/apps and PATCH /api/apps/:id take. */
export interface AppInput {
  label: string;
  description?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  login_url?: string | null;
  auth_method?: AuthMethod;
  refresh_token?: boolean;
  scopes?: ('email' | 'profile')[];
  attribute_mapping?: AttributeMapping[];
  groups_claim?: string | null;
  refresh_token_ttl?: number;
  refresh_token_reuse_interval?: number;
  /** Left out at creation: on exactly when login_url is set. */
  show_in_portal?: boolean;
  send_iss_on_launch?: boolean;
}

export interface ApiKey {
  id: string;
  name: string;
  owner: { id: string; username: string; role: Role | null };
  scope: 'read_only' | 'read_write';
  prefix: string;
  expires: string | null;
  last_used: string | null;
  revoked: string | null;
  created: string;
}

export interface SigningKey {
  kid: string;
  alg: string;
  state: 'current' | 'next' | 'previous';
  created: string;
  retire_at: string | null;
}

export interface AuditEvent {
  id: string;
  time: string;
  actor: { type: 'user' | 'api_key' | 'cli' | 'system' | 'anonymous'; id: string | null; name: string | null };
  action: string;
  target: { type: string; id: string | null; name: string | null } | null;
  source_ip: string | null;
  user_agent: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
}

export interface Settings {
  organisation_name: string;
  access_token_ttl: number;
  id_token_ttl: number;
  session_ttl: number;
  password_min_length: number;
}

/** A page of a list: `limit` and `offset` as asked, `total` counting every match. */
export interface Page<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

// Federation (issue 10; src/federation/types.ts is the source of truth for these shapes).
export type IdentityProviderType = 'entra' | 'oidc';
export const IDENTITY_PROVIDER_TYPE_LABELS: Record<IdentityProviderType, string> = { entra: 'Microsoft Entra ID', oidc: 'OpenID Connect' };
export type UpstreamClientAuth = 'client_secret_post' | 'client_secret_basic';
export type FirstLoginMode = 'link_existing' | 'create';
export const FIRST_LOGIN_LABELS: Record<FirstLoginMode, string> = {
  link_existing: 'Link to an existing user with the same verified email',
  create: 'Link, or create the user when nobody matches',
};

/** An upstream identity provider; the client secret is write-only and never comes back. */
export interface IdentityProvider {
  id: string;
  name: string;
  type: IdentityProviderType;
  enabled: boolean;
  url: string | null;
  issuer: string | null;
  allowed_tenants: string[];
  verified_domains: string[];
  home_realm_domains: string[];
  client_id: string;
  has_client_secret: boolean;
  client_auth: UpstreamClientAuth;
  scopes: string;
  first_login: FirstLoginMode;
  jit_groups: string[];
  /** `<issuer>/oauth/callback`: the redirect URI to register upstream. */
  callback_url: string;
  created: string;
  updated: string;
}

/** What POST /api/identity-providers takes (PATCH: any of it but `type`; a client_secret given replaces the stored one). */
export interface IdentityProviderInput {
  name: string;
  type: IdentityProviderType;
  enabled?: boolean;
  url?: string;
  issuer?: string;
  allowed_tenants?: string[];
  verified_domains?: string[];
  home_realm_domains?: string[];
  client_id: string;
  client_secret?: string;
  client_auth?: UpstreamClientAuth;
  scopes?: string;
  first_login?: FirstLoginMode;
  jit_groups?: string[];
}

export interface IdentityProviderTestResult {
  ok: boolean;
  discovery_url: string;
  issuer: string | null;
  authorization_endpoint: string | null;
  token_endpoint: string | null;
  jwks_uri: string | null;
  keys: number;
  callback_url: string;
  problems: string[];
}

export interface RoutingPolicy {
  id: string;
  name: string;
  enabled: boolean;
  priority: number;
  identity_provider: { id: string; name: string };
  user_groups: { id: string; name: string }[];
  created: string;
  updated: string;
}

export interface RoutingPolicyInput {
  name?: string;
  enabled?: boolean;
  priority?: number;
  identity_provider?: string;
  user_groups?: string[];
}

/** A stored link between an upstream identity and a user (entra: `issuer` is the tenant id, `subject` the object id). */
export interface IdentityLink {
  id: string;
  user_id: string;
  identity_provider: { id: string; name: string };
  issuer: string;
  subject: string;
  email: string | null;
  created: string;
  last_used: string | null;
}

/** GET /api/users/{id}/identities */
export interface UserIdentities {
  data: IdentityLink[];
  externally_managed_password: boolean;
  identity_provider: { id: string; name: string } | null;
}

/** An unpaged list: GET /api/identity-providers and /api/routing-policies. */
export interface ListOf<T> {
  data: T[];
  total: number;
}
