/**
 * The upstream leg of a federated sign-in, as a relying party of the identity provider: discovery
 * (cached per provider configuration), the authorization request (code + PKCE S256 + state + nonce)
 * and the validation of what comes back. openid-client v6 discovers and builds the request; the code
 * exchange and ID token checks use oauth4webapi, the library openid-client is built on, because
 * Entra's multi-tenant documents name their issuer only as a `{tenantid}` template: the issuer a
 * token must carry is known only from that token's `tid`, which must be an allowed tenant. The
 * template is resolved, never skipped: `iss` is then compared exactly, like every other provider's.
 */
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { FEDERATION_CALLBACK_PATH, type IdentityProviderTestResult, type UpstreamConfiguration } from './types.ts';

/** Discovery, token and key requests to an upstream give up after this long. */
export const UPSTREAM_TIMEOUT_SECONDS = 10;
/** A discovery document is reused this long (configuration changes start afresh at once). */
const DISCOVERY_TTL_MS = 60 * 60_000;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TENANT_TEMPLATE = '{tenantid}';

/** Why the upstream leg failed, in the audit log's words, with a message for the person. */
export class UpstreamError extends Error {
  readonly reason: 'upstream_error' | 'token_invalid' | 'tenant_not_allowed' | 'state_invalid';
  /** What went wrong, for the audit log (never a token or secret). */
  readonly detail: string;
  constructor(reason: UpstreamError['reason'], detail: string) {
    super(detail);
    this.reason = reason;
    this.detail = detail.slice(0, 300);
  }
}

/** What a validated upstream ID token says about the person. */
export interface UpstreamIdentity {
  /** The link key: entra (tid, oid), oidc (iss, sub). */
  linkIssuer: string;
  linkSubject: string;
  email: string | undefined;
  /** oidc: email_verified === true; entra: xms_edov === true or the email's domain is a verified domain. */
  emailVerified: boolean;
  preferredUsername: string | undefined;
  name: string | undefined;
  givenName: string | undefined;
  familyName: string | undefined;
  /** The upstream's `amr`, when it sent one. */
  amr: string[] | undefined;
}

interface Discovered {
  server: client.ServerMetadata;
  /** entra common/organizations: the issuer is `<origin>/{tenantid}/v2.0`, resolved per token. */
  tenantTemplate: boolean;
  /** The keys fetched from jwks_uri, shared by the sign-ins of this configuration. */
  jwks: Partial<oauth.ExportedJWKSCache>;
  insecure: boolean;
  at: number;
}

/** http is allowed only to this machine (the test upstreams); every real provider is https. */
function loopbackHttp(url: string): boolean {
  const parsed = URL.parse(url);
  if (parsed?.protocol !== 'http:') return false;
  return parsed.hostname === '127.0.0.1' || parsed.hostname === '[::1]' || parsed.hostname === 'localhost';
}

function tenantOf(config: UpstreamConfiguration): string {
  return new URL(config.provider.url ?? '').pathname.split('/').filter(Boolean)[0] ?? '';
}

function multiTenant(config: UpstreamConfiguration): boolean {
  return config.provider.type === 'entra' && ['common', 'organizations'].includes(tenantOf(config).toLowerCase());
}

/**
 * The issuer the discovery document must name: exactly the configured issuer for oidc; for entra
 * `<url>/v2.0` with a tenant GUID, `<origin>/<some GUID>/v2.0` with a tenant domain, and the
 * `{tenantid}` template for common/organizations. Returns a problem in words, or undefined.
 */
function issuerProblem(config: UpstreamConfiguration, issuer: string): string | undefined {
  const { provider } = config;
  if (provider.type === 'oidc') {
    const expected = (provider.issuer ?? '').replace(/\/$/, '');
    return issuer.replace(/\/$/, '') === expected ? undefined : `The discovery document names the issuer "${issuer}", not the configured "${provider.issuer}".`;
  }
  const url = new URL(provider.url ?? '');
  const tenant = tenantOf(config);
  if (multiTenant(config)) {
    const expected = `${url.origin}/${TENANT_TEMPLATE}/v2.0`;
    return issuer === expected ? undefined : `The ${tenant} discovery document names the issuer "${issuer}", not the template "${expected}".`;
  }
  if (GUID.test(tenant)) {
    const expected = `${url.origin}/${tenant}/v2.0`;
    return issuer.toLowerCase() === expected.toLowerCase() ? undefined : `The discovery document names the issuer "${issuer}", not "${expected}".`;
  }
  const match = issuer.match(/^(.*)\/([^/]+)\/v2\.0$/);
  return match && match[1] === url.origin && GUID.test(match[2] ?? '') ? undefined : `The discovery document for ${tenant} names the issuer "${issuer}", which is not a tenant of ${url.origin}.`;
}

const cache = new Map<string, Promise<Discovered>>();

function cacheKey(config: UpstreamConfiguration): string {
  return JSON.stringify([config.provider.id, config.provider.updated, config.discoveryUrl]);
}

async function fetchDiscovery(config: UpstreamConfiguration): Promise<Discovered> {
  const insecure = loopbackHttp(config.discoveryUrl);
  let configuration: client.Configuration;
  try {
    // The discovery URL is given whole, so openid-client leaves the issuer to us: Entra's documents
    // name a tenant GUID or the template, never what was pasted. issuerProblem checks it instead.
    configuration = await client.discovery(new URL(config.discoveryUrl), config.provider.client_id, undefined, undefined, {
      timeout: UPSTREAM_TIMEOUT_SECONDS,
      execute: insecure ? [client.allowInsecureRequests] : [],
    });
  } catch (error) {
    throw new UpstreamError('upstream_error', `discovery at ${config.discoveryUrl} failed: ${describe(error)}`);
  }
  const server = configuration.serverMetadata();
  const problem = issuerProblem(config, server.issuer);
  if (problem) throw new UpstreamError('upstream_error', problem);
  for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    const value = server[endpoint];
    if (typeof value !== 'string' || (!value.startsWith('https:') && !(insecure && loopbackHttp(value)))) {
      throw new UpstreamError('upstream_error', `the discovery document has no usable ${endpoint}`);
    }
  }
  return { server: { ...server }, tenantTemplate: multiTenant(config), jwks: {}, insecure, at: Date.now() };
}

/** The provider's discovery document, fetched once per configuration and hour; failures are not kept. */
async function discover(config: UpstreamConfiguration): Promise<Discovered> {
  const key = cacheKey(config);
  const cached = cache.get(key);
  if (cached) {
    const found = await cached.catch(() => undefined);
    if (found && Date.now() - found.at < DISCOVERY_TTL_MS) return found;
    if (cache.get(key) === cached) cache.delete(key);
  }
  const pending = fetchDiscovery(config);
  cache.set(key, pending);
  pending.catch(() => {
    if (cache.get(key) === pending) cache.delete(key);
  });
  return pending;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const code = (error as { code?: unknown }).code;
    return `${error.name === 'TimeoutError' || error.name === 'AbortError' ? 'timed out' : error.message}${typeof code === 'string' ? ` (${code})` : ''}${cause}`;
  }
  return String(error);
}

function clientAuthentication(config: UpstreamConfiguration): oauth.ClientAuth {
  return config.provider.client_auth === 'client_secret_basic' ? oauth.ClientSecretBasic(config.clientSecret) : oauth.ClientSecretPost(config.clientSecret);
}

export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The redirect to the provider: code flow with PKCE S256, state and nonce, login_hint (and domain_hint for entra). */
export async function startUpstreamSignIn(config: UpstreamConfiguration, options: { issuer: string; loginHint?: string | undefined }): Promise<AuthorizationRequest> {
  const discovered = await discover(config);
  const configuration = new client.Configuration(discovered.server, config.provider.client_id);
  if (discovered.insecure) client.allowInsecureRequests(configuration);
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters: Record<string, string> = {
    response_type: 'code',
    redirect_uri: `${options.issuer}${FEDERATION_CALLBACK_PATH}`,
    scope: config.provider.scopes,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  };
  const hint = options.loginHint?.trim();
  if (hint) {
    parameters.login_hint = hint;
    const domain = hint.includes('@') ? hint.slice(hint.lastIndexOf('@') + 1).toLowerCase() : '';
    if (config.provider.type === 'entra' && domain) parameters.domain_hint = domain;
  }
  return { url: client.buildAuthorizationUrl(configuration, parameters).href, state, nonce, codeVerifier };
}

const stringClaim = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() ? value.trim() : undefined);

/** The `tid` an unverified ID token claims, only to choose which issuer it must then be verified against. */
async function claimedTenant(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { id_token?: unknown };
    if (typeof body.id_token !== 'string') return undefined;
    const payload = body.id_token.split('.')[1] ?? '';
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { tid?: unknown };
    return typeof claims.tid === 'string' ? claims.tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Validates the authorization response the browser brought back and exchanges its code: state,
 * the token endpoint's answer, the ID token's signature (JWKS, refetched once on an unknown key),
 * exact `iss`, `aud`, `azp`, `exp`/`iat` (30 s leeway), `nonce`; for entra `tid` and `oid`, and the
 * tenant allowed. Throws UpstreamError; never returns an identity that failed a check.
 */
export async function completeUpstreamSignIn(
  config: UpstreamConfiguration,
  parameters: URLSearchParams,
  flow: { state: string; nonce: string; codeVerifier: string; issuer: string },
): Promise<UpstreamIdentity> {
  const upstreamError = parameters.get('error');
  if (upstreamError) {
    const description = parameters.get('error_description');
    throw new UpstreamError('upstream_error', `the provider answered ${upstreamError.slice(0, 64)}${description ? `: ${description.slice(0, 200)}` : ''}`);
  }
  const discovered = await discover(config);
  const { provider } = config;
  const oauthClient: oauth.Client = { client_id: provider.client_id };
  const insecure = discovered.insecure ? { [oauth.allowInsecureRequests]: true } : {};
  let as: oauth.AuthorizationServer = discovered.server;
  // A multi-tenant document can't name the issuer an RFC 9207 `iss` parameter must match; Entra sends none.
  const responseParameters = new URLSearchParams(parameters);
  if (discovered.tenantTemplate) responseParameters.delete('iss');
  let callbackParameters: URLSearchParams;
  try {
    callbackParameters = oauth.validateAuthResponse(as, oauthClient, responseParameters, flow.state);
  } catch (error) {
    throw new UpstreamError('state_invalid', `the authorization response was refused: ${describe(error)}`);
  }
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(as, oauthClient, clientAuthentication(config), callbackParameters, `${flow.issuer}${FEDERATION_CALLBACK_PATH}`, flow.codeVerifier, {
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_SECONDS * 1000),
      ...insecure,
    });
  } catch (error) {
    throw new UpstreamError('upstream_error', `the token request failed: ${describe(error)}`);
  }
  // An error answer has no token to name a tenant: it is reported as the provider's error below.
  if (discovered.tenantTemplate && response.ok) {
    const tid = await claimedTenant(response);
    if (!tid || !GUID.test(tid)) throw new UpstreamError('token_invalid', 'the ID token names no tenant (tid)');
    if (!provider.allowed_tenants.some((allowed) => allowed.toLowerCase() === tid.toLowerCase())) {
      throw new UpstreamError('tenant_not_allowed', `tenant ${tid} is not one of the provider's allowed tenants`);
    }
    as = { ...as, issuer: as.issuer.replace(TENANT_TEMPLATE, tid) };
  }
  let claims: oauth.IDToken;
  try {
    const result = await oauth.processAuthorizationCodeResponse(as, oauthClient, response, { expectedNonce: flow.nonce, requireIdToken: true });
    claims = oauth.getValidatedIdTokenClaims(result) as oauth.IDToken;
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) throw new UpstreamError('upstream_error', `the token endpoint answered ${error.error}`);
    throw new UpstreamError('token_invalid', `the ID token was refused: ${describe(error)}`);
  }
  await verifySignature(discovered, as, response, insecure);
  return identityFrom(config, claims, discovered);
}

/** A failure to reach the key set (network, timeout) is the provider's; anything else is the token's. */
function signatureFailure(error: unknown): UpstreamError {
  const unreachable = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError' || (error instanceof TypeError && !(error as { code?: unknown }).code));
  return unreachable
    ? new UpstreamError('upstream_error', `the provider's keys could not be fetched: ${describe(error)}`)
    : new UpstreamError('token_invalid', `the ID token's signature was refused: ${describe(error)}`);
}

async function verifySignature(discovered: Discovered, as: oauth.AuthorizationServer, response: Response, insecure: object): Promise<void> {
  const options = (jwks: Partial<oauth.ExportedJWKSCache>) => ({ [oauth.jwksCache]: jwks as oauth.ExportedJWKSCache, signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_SECONDS * 1000), ...insecure });
  try {
    // A fresh object each time: oauth4webapi keeps its own key cache per server object too.
    await oauth.validateApplicationLevelSignature({ ...as }, response, options(discovered.jwks));
    return;
  } catch (error) {
    if (!(error instanceof oauth.OperationProcessingError) || error.code !== oauth.KEY_SELECTION) throw signatureFailure(error);
  }
  // An unknown key: the provider may have rotated its keys since they were fetched. Fetch them again, once.
  const fresh: Partial<oauth.ExportedJWKSCache> = {};
  try {
    await oauth.validateApplicationLevelSignature({ ...as }, response, options(fresh));
  } catch (error) {
    throw signatureFailure(error);
  }
  discovered.jwks = fresh;
}

function identityFrom(config: UpstreamConfiguration, claims: oauth.IDToken, discovered: Discovered): UpstreamIdentity {
  const { provider } = config;
  const email = stringClaim(claims.email)?.toLowerCase();
  // Passed on into Gatehouse's own ID tokens: only a short list of short strings (RFC 8176 values are).
  const amr = Array.isArray(claims.amr) && claims.amr.length > 0 && claims.amr.length <= 16 && claims.amr.every((value) => typeof value === 'string' && value.length <= 64) ? (claims.amr as string[]) : undefined;
  const common = {
    email,
    preferredUsername: stringClaim(claims.preferred_username),
    name: stringClaim(claims.name),
    givenName: stringClaim(claims.given_name),
    familyName: stringClaim(claims.family_name),
    amr,
  };
  if (provider.type === 'oidc') {
    return { ...common, linkIssuer: claims.iss, linkSubject: claims.sub, emailVerified: Boolean(email) && claims.email_verified === true };
  }
  const tid = stringClaim(claims.tid);
  const oid = stringClaim(claims.oid);
  if (!tid || !GUID.test(tid) || !oid) throw new UpstreamError('token_invalid', 'the ID token has no tid or oid');
  // The issuer names the tenant; a token whose tid says otherwise is not Entra's.
  if (!claims.iss.toLowerCase().includes(`/${tid.toLowerCase()}/`)) throw new UpstreamError('token_invalid', 'the ID token\'s tid does not match its issuer');
  if (!discovered.tenantTemplate && provider.allowed_tenants.length && !provider.allowed_tenants.some((allowed) => allowed.toLowerCase() === tid.toLowerCase())) {
    throw new UpstreamError('tenant_not_allowed', `tenant ${tid} is not one of the provider's allowed tenants`);
  }
  const domainOf = (address: string | undefined) => (address?.includes('@') ? address.slice(address.lastIndexOf('@') + 1) : '');
  if (email) {
    const emailVerified = claims.xms_edov === true || provider.verified_domains.includes(domainOf(email));
    return { ...common, linkIssuer: tid.toLowerCase(), linkSubject: oid, emailVerified };
  }
  // No email claim (it is optional in Entra): the UPN stands in for it, trusted only when its domain
  // is one the administrator listed as verified (xms_edov is sent only with an email).
  const upn = common.preferredUsername?.toLowerCase();
  const upnVerified = Boolean(upn) && provider.verified_domains.includes(domainOf(upn));
  return { ...common, email: upn, linkIssuer: tid.toLowerCase(), linkSubject: oid, emailVerified: upnVerified };
}

/**
 * What `POST /api/identity-providers/{id}/test` answers: runs discovery afresh, checks the issuer,
 * the endpoints, the client authentication method, PKCE and the scopes, and fetches the keys.
 */
export async function testIdentityProvider(config: UpstreamConfiguration, options: { callbackUrl: string }): Promise<IdentityProviderTestResult> {
  const result: IdentityProviderTestResult = {
    ok: false,
    discovery_url: config.discoveryUrl,
    issuer: null,
    authorization_endpoint: null,
    token_endpoint: null,
    jwks_uri: null,
    keys: 0,
    callback_url: options.callbackUrl,
    problems: [],
  };
  const insecure = loopbackHttp(config.discoveryUrl);
  let server: client.ServerMetadata;
  try {
    const configuration = await client.discovery(new URL(config.discoveryUrl), config.provider.client_id, undefined, undefined, {
      timeout: UPSTREAM_TIMEOUT_SECONDS,
      execute: insecure ? [client.allowInsecureRequests] : [],
    });
    server = configuration.serverMetadata();
  } catch (error) {
    result.problems.push(`Discovery at ${config.discoveryUrl} failed: ${describe(error)}.`);
    return result;
  }
  result.issuer = server.issuer;
  result.authorization_endpoint = server.authorization_endpoint ?? null;
  result.token_endpoint = server.token_endpoint ?? null;
  result.jwks_uri = server.jwks_uri ?? null;
  const problem = issuerProblem(config, server.issuer);
  if (problem) result.problems.push(problem);
  if (!server.authorization_endpoint) result.problems.push('The discovery document has no authorization_endpoint.');
  if (!server.token_endpoint) result.problems.push('The discovery document has no token_endpoint.');
  const responseTypes = server.response_types_supported;
  if (Array.isArray(responseTypes) && !responseTypes.includes('code')) result.problems.push('The provider does not offer the authorization code flow (response type "code").');
  const methods = server.token_endpoint_auth_methods_supported;
  if (Array.isArray(methods) && !methods.includes(config.provider.client_auth)) {
    result.problems.push(`The provider does not accept ${config.provider.client_auth} (it offers ${methods.join(', ')}): change the client authentication.`);
  }
  const challenges = server.code_challenge_methods_supported;
  if (Array.isArray(challenges) && !challenges.includes('S256')) result.problems.push('The provider does not offer PKCE with S256.');
  const scopes = server.scopes_supported;
  if (Array.isArray(scopes)) {
    const missing = config.provider.scopes.split(' ').filter((scope) => scope && !scopes.includes(scope));
    if (missing.length) result.problems.push(`The provider does not list the scopes ${missing.join(', ')}.`);
  }
  if (server.jwks_uri) {
    try {
      if (!server.jwks_uri.startsWith('https:') && !(insecure && loopbackHttp(server.jwks_uri))) throw new Error('the key set is not served over https');
      const response = await fetch(server.jwks_uri, { signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_SECONDS * 1000), redirect: 'manual' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const jwks = (await response.json()) as { keys?: unknown };
      result.keys = Array.isArray(jwks.keys) ? jwks.keys.length : 0;
      if (!result.keys) result.problems.push('The key set (jwks_uri) has no keys.');
    } catch (error) {
      result.problems.push(`The key set at ${server.jwks_uri} could not be fetched: ${describe(error)}.`);
    }
  } else {
    result.problems.push('The discovery document has no jwks_uri.');
  }
  result.ok = result.problems.length === 0;
  return result;
}
