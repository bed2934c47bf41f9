/**
 * Federation's shapes, shared by the directory stores (federation/providers.ts, routing.ts,
 * links.ts), the upstream sign-in leg (federation/sign-in.ts) and the API, CLI and console.
 * Issue 10; seed 004 (JumpCloud's "Identity Providers" and "Routing Policies").
 */

export const IDENTITY_PROVIDER_TYPES = ['entra', 'oidc'] as const;
export type IdentityProviderType = (typeof IDENTITY_PROVIDER_TYPES)[number];

export const UPSTREAM_CLIENT_AUTH_METHODS = ['client_secret_post', 'client_secret_basic'] as const;
export type UpstreamClientAuth = (typeof UPSTREAM_CLIENT_AUTH_METHODS)[number];

/** What happens when an identity from this provider signs in for the first time. */
export const FIRST_LOGIN_MODES = ['link_existing', 'create'] as const;
export type FirstLoginMode = (typeof FIRST_LOGIN_MODES)[number];

/** The path of the one redirect URI every upstream provider is given: `<issuer>/oauth/callback`. */
export const FEDERATION_CALLBACK_PATH = '/oauth/callback';

/** An identity provider as the API, CLI and console see it: the client secret never leaves. */
export interface IdentityProvider {
  id: string;
  name: string;
  type: IdentityProviderType;
  enabled: boolean;
  /** entra: `https://login.microsoftonline.com/<tenant>` as pasted (null for oidc). */
  url: string | null;
  /** oidc: the issuer URL; entra: the single-tenant issuer derived from url, or null for common/organizations. */
  issuer: string | null;
  /** entra, multi-tenant forms only: the tenant GUIDs whose people may sign in. */
  allowed_tenants: string[];
  /** entra: email domains treated as verified even without xms_edov. */
  verified_domains: string[];
  /** Domain rules: a typed email with one of these domains is sent to this provider, known or not. */
  home_realm_domains: string[];
  client_id: string;
  /** True once a secret is stored; the secret itself is write-only. */
  has_client_secret: boolean;
  client_auth: UpstreamClientAuth;
  /** Space-separated, default `openid email profile`. */
  scopes: string;
  first_login: FirstLoginMode;
  /** Group ids a user created on first login (first_login: create) is added to. */
  jit_groups: string[];
  created: string;
  updated: string;
}

export interface IdentityProviderInput {
  name: string;
  type: IdentityProviderType;
  enabled?: boolean | undefined;
  url?: string | undefined;
  issuer?: string | undefined;
  allowed_tenants?: string[] | undefined;
  verified_domains?: string[] | undefined;
  home_realm_domains?: string[] | undefined;
  client_id: string;
  client_secret: string;
  client_auth?: UpstreamClientAuth | undefined;
  scopes?: string | undefined;
  first_login?: FirstLoginMode | undefined;
  /** Group ids or names. */
  jit_groups?: string[] | undefined;
}

/** Every field optional; `type` cannot change. A client_secret given replaces the stored one. */
export type IdentityProviderChanges = Partial<Omit<IdentityProviderInput, 'type'>>;

/** What the sign-in leg needs: the provider plus its unsealed secret and discovery URL. Never serialised. */
export interface UpstreamConfiguration {
  provider: IdentityProvider;
  clientSecret: string;
  /** `<url>/v2.0/.well-known/openid-configuration` for entra, `<issuer>/.well-known/openid-configuration` for oidc. */
  discoveryUrl: string;
}

export interface RoutingPolicy {
  id: string;
  name: string;
  enabled: boolean;
  /** Lowest number wins when a person is in groups of several policies. */
  priority: number;
  identity_provider: { id: string; name: string };
  user_groups: { id: string; name: string }[];
  created: string;
  updated: string;
}

export interface RoutingPolicyInput {
  name: string;
  enabled?: boolean | undefined;
  priority?: number | undefined;
  /** Provider id or name. */
  identity_provider: string;
  /** Group ids or names, at least one. */
  user_groups: string[];
}

export type RoutingPolicyChanges = Partial<RoutingPolicyInput>;

/**
 * A stored link between an upstream identity and a Gatehouse user. Later sign-ins match only on it:
 * entra: (provider, tid, oid) — `issuer` holds the tid, `subject` the oid; oidc: (provider, iss, sub).
 */
export interface IdentityLink {
  id: string;
  user_id: string;
  identity_provider: { id: string; name: string };
  issuer: string;
  subject: string;
  /** The upstream email (or preferred_username) when the link was made, for administrators to recognise it. */
  email: string | null;
  created: string;
  last_used: string | null;
}

/** Why a federated sign-in was refused; the audit event's `details.reason`. */
export type FederationFailureReason =
  | 'no_match'
  | 'unverified_email'
  | 'several_matches'
  | 'tenant_not_allowed'
  | 'token_invalid'
  | 'state_invalid'
  | 'upstream_error'
  | 'provider_disabled'
  | 'not_assigned'
  | 'suspended'
  | 'locked'
  | 'staged'
  /** A verified email matched an account this provider is not for (neither routed to it nor in its domain rules). */
  | 'not_routed';

/** What `POST /api/identity-providers/{id}/test` (and `gatehouse idps test`) answers. */
export interface IdentityProviderTestResult {
  ok: boolean;
  discovery_url: string;
  /** The issuer discovery returned (entra multi-tenant: the `{tenantid}` template as found). */
  issuer: string | null;
  authorization_endpoint: string | null;
  token_endpoint: string | null;
  jwks_uri: string | null;
  /** Number of keys in the JWKS, fetched as part of the test. */
  keys: number;
  /** The redirect URI to register upstream: `<issuer>/oauth/callback`. */
  callback_url: string;
  /** Each problem found, in words an administrator can act on (empty when ok). */
  problems: string[];
}
