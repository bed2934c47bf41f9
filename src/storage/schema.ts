import type { Generated } from 'kysely';

/** Booleans are stored as 0/1 integers and JSON as text so one query shape serves SQLite and PostgreSQL. */
export interface UsersTable {
  id: string;
  username: string;
  username_key: string;
  email: string;
  email_key: string;
  firstname: string;
  lastname: string;
  displayname: string;
  state: string;
  account_locked: number;
  password_hash: string | null;
  /** When the password was last set (migration 012); null before that was recorded, or without one. */
  password_changed_at: string | null;
  failed_logins: number;
  /** When the latest failed sign-in was (migration 017); failures older than the lockout window stop counting. */
  last_failed_login_at: string | null;
  attributes: string;
  role: string | null;
  created_at: string;
  updated_at: string;
}

export interface UserGroupsTable {
  id: string;
  name: string;
  name_key: string;
  description: string;
  builtin: number;
  created_at: string;
  updated_at: string;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
}

export interface AppsTable {
  id: string;
  label: string;
  description: string;
  icon: string | null;
  active: number;
  client_id: string;
  client_secret_hash: string | null;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  login_url: string | null;
  auth_method: string;
  refresh_token: number;
  scopes: string;
  attribute_map: string;
  groups_claim: string | null;
  refresh_token_ttl: number;
  /** Seconds within which a just-rotated refresh token may be presented again (0: never). */
  refresh_token_reuse_interval: number;
  /** 1: the app's tile shows in the user portal (when it has a Login URL). */
  show_in_portal: number;
  /** 1: a launch from the portal appends iss=<issuer> to the Login URL (OIDC Core §4). */
  send_iss_on_launch: number;
  created_at: string;
  updated_at: string;
}

export interface AppBindingsTable {
  app_id: string;
  group_id: string;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk: string;
  state: string;
  created_at: string;
  retire_at: number | null;
}

export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  client_id: string | null;
  account_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: number | null;
  consumed_at: number | null;
}

/** A refresh-token rotation remembered for the app's reuse interval (oidc/refresh-grace.ts). */
export interface RefreshTokenRotationsTable {
  /** A hash of the consumed refresh token. */
  id: string;
  client_id: string;
  /** The token response, sealed; null while the rotation is under way. */
  response: string | null;
  expires_at: number;
}

export interface ApiKeysTable {
  id: string;
  owner_id: string;
  name: string;
  scope: string;
  prefix: string;
  key_hash: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

export interface AuditEventsTable {
  id: string;
  time: string;
  actor_type: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  source_ip: string | null;
  user_agent: string | null;
  outcome: string;
  details: string;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Generated<string>;
}

/** An upstream identity provider (federation); JSON lists as text, the client secret sealed. */
export interface IdentityProvidersTable {
  id: string;
  name: string;
  name_key: string;
  type: string;
  enabled: number;
  url: string | null;
  issuer: string | null;
  allowed_tenants: string;
  verified_domains: string;
  home_realm_domains: string;
  client_id: string;
  client_secret_sealed: string | null;
  client_auth: string;
  scopes: string;
  first_login: string;
  jit_groups: string;
  created_at: string;
  updated_at: string;
}

export interface RoutingPoliciesTable {
  id: string;
  name: string;
  name_key: string;
  enabled: number;
  priority: number;
  identity_provider_id: string;
  created_at: string;
  updated_at: string;
}

export interface RoutingPolicyGroupsTable {
  policy_id: string;
  group_id: string;
}

/** entra: issuer holds the tid, subject the oid; oidc: iss and sub. */
export interface IdentityLinksTable {
  id: string;
  user_id: string;
  identity_provider_id: string;
  issuer: string;
  subject: string;
  email: string | null;
  created_at: string;
  last_used_at: string | null;
}

/** A sign-in under way upstream, keyed by a hash of its `state`; the payload is sealed. */
export interface FederationFlowsTable {
  id: string;
  payload: string;
  expires_at: number;
}

/** The externalId a SCIM client gave a user or group (migration 013); gone with the user or group. */
export interface ScimUserLinksTable {
  user_id: string;
  external_id: string;
}

export interface ScimGroupLinksTable {
  group_id: string;
  external_id: string;
}

/** Where and with what a Gatehouse session was last used (oidc/sessions.ts); keyed by the session's uid. */
export interface SessionActivityTable {
  session_uid: string;
  account_id: string;
  ip: string | null;
  user_agent: string | null;
  /** Epoch seconds. */
  created_at: number;
  last_seen_at: number;
}

/** A person's TOTP authenticator (migration 014): the secret sealed, `last_step` the last time step accepted. */
export interface TotpFactorsTable {
  user_id: string;
  secret_sealed: string;
  confirmed_at: string | null;
  last_step: number | null;
  created_at: string;
  last_used_at: string | null;
}

/** One-time recovery codes, as keyed hashes (authn/recovery-codes.ts). */
export interface RecoveryCodesTable {
  user_id: string;
  code_hash: string;
  created_at: string;
  used_at: string | null;
}

/** Security keys and passkeys (migration 015, authn/webauthn.ts). */
export interface WebauthnCredentialsTable {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number;
  /** JSON array of the transports the authenticator named (usb, nfc, internal, hybrid…). */
  transports: string;
  device_type: 'single_device' | 'multi_device';
  backed_up: number;
  aaguid: string | null;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

/** One-time WebAuthn challenges of ceremonies under way (migration 015). */
export interface WebauthnChallengesTable {
  key: string;
  challenge: string;
  user_id: string | null;
  expires_at: string;
}

/** Access policies (migration 016, authn/policies.ts): lowest position first. */
export interface AccessPoliciesTable {
  id: string;
  name: string;
  name_key: string;
  enabled: number;
  position: number;
  resource: string;
  all_users: number;
  addresses_in: string;
  addresses_not_in: string;
  sign_in: string | null;
  action: string;
  grace_days: number;
  created_at: string;
  updated_at: string;
}

export interface AccessPolicyAppsTable {
  policy_id: string;
  app_id: string;
}

export interface AccessPolicyGroupsTable {
  policy_id: string;
  group_id: string;
}

/** When a policy first required MFA of a person without a factor: the start of their grace period. */
export interface MfaRequirementsTable {
  user_id: string;
  policy_id: string;
  first_required_at: string;
}

export interface Database {
  users: UsersTable;
  user_groups: UserGroupsTable;
  group_members: GroupMembersTable;
  apps: AppsTable;
  app_bindings: AppBindingsTable;
  signing_keys: SigningKeysTable;
  oidc_payloads: OidcPayloadsTable;
  refresh_token_rotations: RefreshTokenRotationsTable;
  schema_migrations: SchemaMigrationsTable;
  api_keys: ApiKeysTable;
  audit_events: AuditEventsTable;
  settings: SettingsTable;
  identity_providers: IdentityProvidersTable;
  routing_policies: RoutingPoliciesTable;
  routing_policy_groups: RoutingPolicyGroupsTable;
  identity_links: IdentityLinksTable;
  federation_flows: FederationFlowsTable;
  session_activity: SessionActivityTable;
  scim_user_links: ScimUserLinksTable;
  scim_group_links: ScimGroupLinksTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  webauthn_credentials: WebauthnCredentialsTable;
  webauthn_challenges: WebauthnChallengesTable;
  access_policies: AccessPoliciesTable;
  access_policy_apps: AccessPolicyAppsTable;
  access_policy_groups: AccessPolicyGroupsTable;
  mfa_requirements: MfaRequirementsTable;
}
