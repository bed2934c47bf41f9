import type { Kysely } from 'kysely';
import Provider, { type Configuration, errors, type KoaContextWithOIDC, interactionPolicy } from 'oidc-provider';
import { type AccessResolver, createAccessResolver } from '../directory/access.ts';
import { ACR_VALUES, MFA_ACRS, type PolicyGate, type PolicyRequirement, acrFor } from '../authn/policies.ts';
import { PORTAL_CLIENT_ID, consoleAppRow, portalAppRow } from '../directory/console-app.ts';
import { clientSecretMatches } from '../directory/secrets.ts';
import type { DialectName } from '../storage/db.ts';
import type { ReadFn, WriteFn } from '../storage/read.ts';
import { createVersionReader } from '../storage/versions.ts';
import type { Database } from '../storage/schema.ts';
import { APP_CLAIMS, type ClaimsWithApp, SESSION_IDP, createFindAccount } from './account.ts';
import { createAdapterClass, sessionIdSealingKey } from './adapter.ts';
import { REUSE_INTERVAL_PROPERTY, enableRefreshTokenReuseGrace } from './refresh-grace.ts';
import { perRequest } from './request-memo.ts';
import { deriveKey } from './secret-key.ts';
import { PAGE_CSP, errorPage, logoutPage, signedOutPage } from './views.ts';

/** JumpCloud's endpoint paths, so that apps configured for JumpCloud only change the issuer. */
export const ROUTES = {
  authorization: '/oauth2/auth',
  token: '/oauth2/token',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  revocation: '/oauth2/revoke',
  introspection: '/oauth2/introspect',
  end_session: '/oauth2/sessions/logout',
  // RFC 9126 pushed authorization requests; JumpCloud has none, so the path is ours.
  pushed_authorization_request: '/oauth2/par',
} as const;

export const AUTHORIZATION_CODE_TTL = 60;
export const INTERACTION_TTL = 30 * 60;

const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
  email: ['email', 'email_verified'],
} as const;

export interface TokenIssued {
  accountId: string | undefined;
  username: string | undefined;
  clientId: string;
  appId: string | undefined;
  appLabel: string | undefined;
  grantType: string;
  ip: string;
  userAgent: string | undefined;
}

export interface ProviderDependencies {
  issuer: string;
  db: Kysely<Database>;
  /** The storage's fast read path for the hot queries. */
  read: ReadFn;
  /** The storage's write path (group-committed on SQLite) for everything oidc-provider stores. */
  write: WriteFn;
  /** On SQLite, access decisions and token rows are kept in memory while the versions stand (storage/versions.ts). */
  dialect: DialectName;
  jwks: { keys: object[] };
  secret: Buffer;
  /** Token and session lifetimes in seconds, from the organisation's settings. */
  lifetimes: { accessToken: number; idToken: number; session: number };
  onServerError?: (error: unknown) => void;
  onTokenIssued?: (event: TokenIssued) => void;
  /** Access policies (authn/policies.ts): checked after sign-in and at every single sign-on into an app. */
  policyGate?: PolicyGate;
}

/** The interaction result of "enrol later" (the policy's id), and the session field that remembers it. */
export const MFA_POSTPONED_RESULT = 'gatehouse_mfa_postponed';
const SESSION_MFA_POSTPONED = 'gatehouse_mfa_postponed';
/** Where the access_policy prompt's details carry what the policy asks (read by routes/interactions.ts). */
export const POLICY_REQUIREMENT = 'gatehouse_policy';

type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']> & {
  gatehouse_scopes?: string;
  gatehouse_refresh_token_ttl?: number;
};

const clientScopes = (client: OidcClient): Set<string> => new Set((client.gatehouse_scopes ?? 'openid').split(' '));

/**
 * oidc-provider drops offline_access unless prompt=consent (OIDC Core §11). Apps registered by an
 * administrator with the refresh grant on are pre-approved for offline access — the "other
 * conditions" that section allows — so restore it when the app asked for it.
 */
function restoreOfflineAccess(ctx: KoaContextWithOIDC): void {
  const client = ctx.oidc.client as OidcClient | undefined;
  if (ctx.oidc.route !== 'authorization' || !client || !clientScopes(client).has('offline_access')) return;
  const raw = (ctx.method === 'POST' ? (ctx.oidc.body as Record<string, unknown> | undefined)?.scope : ctx.query.scope) ?? '';
  const params = ctx.oidc.params as { scope?: string; response_type?: string };
  if (typeof raw !== 'string' || !raw.split(' ').includes('offline_access')) return;
  if (!params.response_type?.split(' ').includes('code')) return;
  const scopes = new Set(params.scope?.split(' '));
  if (!scopes.has('offline_access')) params.scope = [...scopes, 'offline_access'].join(' ');
}

/** Claims the app may receive through scopes: those of its allowed scopes, plus the protocol's own. */
function claimsForScopes(scopes: Set<string>): Set<string> {
  const claims = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);
  for (const [scope, names] of Object.entries(SCOPE_CLAIMS)) if (scopes.has(scope)) for (const name of names) claims.add(name);
  return claims;
}

/**
 * Browsers drop a SameSite=None cookie that isn't Secure, so on a plain-http issuer (development,
 * loopback) the session cookie is sent as SameSite=Lax instead: everything works except that a
 * cross-site POST arrives without the session (the person signs in again; logout by POST asks first).
 */
function sameSiteNoneNeedsSecure(ctx: { response: { get(field: string): unknown }; set(field: string, value: string[]): void }): void {
  const setCookie = ctx.response.get('set-cookie') as string | string[] | undefined;
  if (!setCookie) return;
  const cookies = Array.isArray(setCookie) ? setCookie : [setCookie];
  const insecureNone = /;\s*samesite=none(?=;|$)/i;
  if (!cookies.some((cookie) => insecureNone.test(cookie) && !/;\s*secure(?=;|$)/i.test(cookie))) return;
  ctx.set(
    'Set-Cookie',
    cookies.map((cookie) => (/;\s*secure(?=;|$)/i.test(cookie) ? cookie : cookie.replace(insecureNone, '; samesite=lax'))),
  );
}

/**
 * The provider, and the access resolver it checks every request with: the sign-in pages look apps
 * up through the same one (the console included, kept in memory on SQLite) instead of a query each.
 */
export function createProvider(deps: ProviderDependencies): { provider: Provider; access: AccessResolver } {
  const httpsIssuer = deps.issuer.startsWith('https:');
  const issuerOrigin = new URL(deps.issuer).origin;
  // On SQLite, directory data and token rows stay in memory while the versions stand (storage/versions.ts).
  const versions = deps.dialect === 'sqlite' ? createVersionReader(deps.read, perRequest) : undefined;
  const access = createAccessResolver(deps.db, { memo: perRequest, read: deps.read, consoleApp: consoleAppRow(deps.issuer), portalApp: portalAppRow(deps.issuer), ...(versions ? { versions } : {}) });
  const Adapter = createAdapterClass(deps.db, access, { read: deps.read, write: deps.write, versions, sessionIdKey: sessionIdSealingKey(deps.secret) });
  const policy = interactionPolicy.base();
  // Runs first on every authorization request, while the raw request is still at hand; the
  // interaction then stores the restored scope for the resumed request.
  policy.get('login')?.checks.add(
    new interactionPolicy.Check('restore_offline_access', 'offline access for pre-approved apps', (ctx) => {
      restoreOfflineAccess(ctx);
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
    0,
  );

  // A finished sign-in records on the session where it happened: the identity provider's name after a
  // federated one (routes/federation.ts puts it in the result), nothing after a password, so that a
  // later password sign-in in the same browser doesn't keep an earlier provider's name.
  policy.get('login')?.checks.add(
    new interactionPolicy.Check('record_identity_provider', 'the identity provider of the sign-in just finished', (ctx) => {
      const result = ctx.oidc.result as Record<string, unknown> | undefined;
      if (result?.login && ctx.oidc.session) {
        const idp = result[SESSION_IDP];
        (ctx.oidc.session as unknown as Record<string, unknown>)[SESSION_IDP] = typeof idp === 'string' ? idp : undefined;
      }
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
    0,
  );

  // Deny by default, after sign-in and before anything else: a person outside the app's groups gets
  // a page that says so (or, with prompt=none, the app gets access_denied straight away).
  // prompt=select_account (JumpCloud rejects it): ask "continue as … or use another account".
  // Its only check is the one oidc-provider adds for requestable prompts: asked for and not yet answered.
  policy.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }), 1);
  policy.add(
    new interactionPolicy.Prompt(
      { name: 'app_access', requestable: false },
      new interactionPolicy.Check('app_access_denied', 'End-User has no access to this application', 'access_denied', async (ctx) => {
        const { session, client } = ctx.oidc;
        if (!session?.accountId || !client) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const decision = await access.decide(session.accountId, client.clientId);
        return decision.allowed ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
      }),
    ),
    2,
  );

  // Access policies, after app access: deny, or ask for a second factor (step-up or enrolment).
  // With prompt=none the app gets the check's error: access_denied, or interaction_required.
  if (deps.policyGate) {
    const gate = deps.policyGate;
    const requirements = new WeakMap<object, Promise<PolicyRequirement | undefined>>();
    const requirementOf = (ctx: KoaContextWithOIDC): Promise<PolicyRequirement | undefined> => {
      let pending = requirements.get(ctx);
      if (!pending) {
        pending = (async () => {
          const { session, client } = ctx.oidc;
          if (!session?.accountId || !client) return undefined;
          const fields = session as unknown as Record<string, unknown>;
          const postponedNow = (ctx.oidc.result as Record<string, unknown> | undefined)?.[MFA_POSTPONED_RESULT];
          const stored = Array.isArray(fields[SESSION_MFA_POSTPONED]) ? (fields[SESSION_MFA_POSTPONED] as unknown[]).filter((id): id is string => typeof id === 'string') : [];
          if (typeof postponedNow === 'string' && !stored.includes(postponedNow)) {
            stored.push(postponedNow);
            fields[SESSION_MFA_POSTPONED] = stored;
          }
          const app = client.clientId === PORTAL_CLIENT_ID ? undefined : await access.appRow(client.clientId);
          const amr = Array.isArray(session.amr) ? session.amr : [];
          const requestedAcrs = String((ctx.oidc.params as { acr_values?: unknown } | undefined)?.acr_values ?? '').split(' ').filter(Boolean);
          // The ID token's acr (read from the session when the code is issued) says what was done.
          const acr = acrFor(amr, requestedAcrs);
          if (session.acr !== acr) session.acr = acr;
          return gate.evaluate({
            accountId: session.accountId,
            resource: app ? { kind: 'app', appId: app.id } : { kind: 'portal' },
            address: ctx.ip,
            federated: typeof fields[SESSION_IDP] === 'string',
            amr,
            postponed: stored,
            mfaRequested: requestedAcrs.some((value) => MFA_ACRS.includes(value)),
          });
        })();
        requirements.set(ctx, pending);
      }
      return pending;
    };
    const details = async (ctx: KoaContextWithOIDC) => ({ [POLICY_REQUIREMENT]: await requirementOf(ctx) });
    policy.add(
      new interactionPolicy.Prompt(
        { name: 'access_policy', requestable: false },
        new interactionPolicy.Check('policy_denied', 'Access is denied by policy', 'access_denied', async (ctx) =>
          (await requirementOf(ctx))?.kind === 'deny' ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT, details),
        new interactionPolicy.Check('mfa_required', 'Multi-factor authentication is required', 'interaction_required', async (ctx) => {
          const kind = (await requirementOf(ctx))?.kind;
          return kind === 'step_up' || kind === 'enrol' ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
        }, details),
      ),
      3,
    );
  }

  const configuration: Configuration = {
    adapter: Adapter,
    clients: [],
    // Discovery's acr_values_supported; an app asking for an MFA value gets a step-up (authn/policies.ts).
    acrValues: [...ACR_VALUES],
    findAccount: createFindAccount(access),
    jwks: deps.jwks as Configuration['jwks'],
    routes: ROUTES,
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: Object.fromEntries(Object.entries(SCOPE_CLAIMS).map(([k, v]) => [k, [...v]])),
    // JumpCloud puts the scope claims in the ID token too, and code-flow apps read them there.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    // The methods an app can be registered with; discovery advertises exactly these.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    pkce: { required: (_ctx, client) => client.tokenEndpointAuthMethod === 'none' },
    rotateRefreshToken: true,
    allowOmittingSingleRegisteredRedirectUri: false,
    extraClientMetadata: { properties: ['gatehouse_scopes', 'gatehouse_refresh_token_ttl', REUSE_INTERVAL_PROPERTY] },
    // OIDC Core §3.1.2.1 and RP-Initiated Logout §2: the authorization and end-session endpoints
    // take POST as well as GET. Those POSTs are cross-site form submissions from the app's page, so
    // the session cookie (long) is SameSite=None to travel with them (oidc-provider insists); it
    // becomes Lax again where it can't be Secure (see sameSiteNoneNeedsSecure). The interaction
    // cookies (short) stay Lax: the sign-in form is only ever posted from our own pages, and its
    // CSRF token and Origin check stand (src/http/routes/interactions.ts). The end-session
    // confirmation carries its own xsrf token, so a session cookie sent cross-site can't sign anyone out.
    enableHttpPostMethods: true,
    cookies: {
      keys: [deriveKey(deps.secret, 'cookies').toString('base64url')],
      long: { httpOnly: true, sameSite: 'none', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    ttl: {
      AccessToken: deps.lifetimes.accessToken,
      AuthorizationCode: AUTHORIZATION_CODE_TTL,
      IdToken: deps.lifetimes.idToken,
      Interaction: INTERACTION_TTL,
      Session: deps.lifetimes.session,
      Grant: (ctx) => (ctx.oidc.client as OidcClient | undefined)?.gatehouse_refresh_token_ttl ?? deps.lifetimes.session,
      RefreshToken: (_ctx, _token, client) => (client as OidcClient).gatehouse_refresh_token_ttl ?? deps.lifetimes.session,
    },
    features: {
      devInteractions: { enabled: false },
      // A token may be introspected only by the app it was issued to.
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
          // RFC 7009 §2.1: a confidential client presenting another app's token is told so (public
      // clients, which anyone can impersonate, learn nothing).
      revocation: {
        enabled: true,
        allowedPolicy(_ctx, client, token) {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          const hint = (ctx.oidc.params as { id_token_hint?: string } | undefined)?.id_token_hint;
          ctx.set('Content-Security-Policy', PAGE_CSP);
          ctx.type = 'html';
          ctx.body = logoutPage({ form, app: ctx.oidc.client?.clientName, autoSubmit: Boolean(hint && ctx.oidc.client) });
        },
        async postLogoutSuccessSource(ctx) {
          ctx.set('Content-Security-Policy', PAGE_CSP);
          ctx.type = 'html';
          ctx.body = signedOutPage();
        },
      },
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `${issuerOrigin}/interaction/${interaction.uid}`,
    },
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const decision = await access.decide(session.accountId, client.clientId);
      if (!decision.allowed) return undefined;
      const oidcClient = client as OidcClient;
      // The grant is loaded before the policy runs: restore offline_access before it is computed.
      restoreOfflineAccess(ctx);

      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      let changed = false;
      if (!grant) {
        grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
        changed = true;
      }
      // The grant carries the session's identity provider to the token endpoint, where the ID token's
      // `idp` is read from it (account.ts) without looking the session up. Runs before the policy's
      // record_identity_provider check, so a sign-in just finished is read from its result.
      const result = ctx.oidc.result as Record<string, unknown> | undefined;
      const source = result?.login ? result : (session as unknown as Record<string, unknown>);
      const idp = typeof source[SESSION_IDP] === 'string' ? (source[SESSION_IDP] as string) : undefined;
      const grantFields = grant as unknown as Record<string, unknown>;
      if (grantFields[SESSION_IDP] !== idp) {
        grantFields[SESSION_IDP] = idp;
        changed = true;
      }
      // Admin-registered apps need no consent screen: grant what the app is allowed, refuse the rest.
      const allowedScopes = clientScopes(oidcClient);
      const encountered = new Set(grant.getOIDCScopeEncountered().split(' '));
      const newScopes = [...ctx.oidc.requestParamOIDCScopes].filter((scope) => !encountered.has(scope));
      if (newScopes.length) {
        const granted = newScopes.filter((scope) => allowedScopes.has(scope));
        const refused = newScopes.filter((scope) => !allowedScopes.has(scope));
        if (granted.length) grant.addOIDCScope(granted.join(' '));
        if (refused.length) grant.rejectOIDCScope(refused.join(' '));
        changed = true;
      }
      const allowedClaims = claimsForScopes(allowedScopes);
      const knownClaims = new Set(grant.getOIDCClaimsEncountered());
      const newClaims = [...ctx.oidc.requestParamClaims].filter((claim) => !knownClaims.has(claim));
      if (newClaims.length) {
        const granted = newClaims.filter((claim) => allowedClaims.has(claim));
        const refused = newClaims.filter((claim) => !allowedClaims.has(claim));
        if (granted.length) grant.addOIDCClaims(granted);
        if (refused.length) grant.rejectOIDCClaims(refused);
        changed = true;
      }
      if (changed) await grant.save();
      return grant;
    },
    clientBasedCORS(_ctx, origin, client) {
      // Browser apps (public clients) call the token and userinfo endpoints from their own origin.
      return client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) ?? false;
    },
    async renderError(ctx, out, error) {
      ctx.set('Content-Security-Policy', PAGE_CSP);
      ctx.type = 'html';
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) deps.onServerError?.(error);
      ctx.body = errorPage(
        ctx.oidc?.route === 'end_session' || ctx.oidc?.route === 'end_session_confirm' ? 'Sign-out could not continue' : 'Sign-in could not continue',
        'The application sent a request Gatehouse cannot accept. Go back to the application and try again; if it keeps happening, tell its administrator.',
        out as unknown as Record<string, string>,
      );
    },
  };

  const provider = new Provider(deps.issuer, configuration);
  // Sessions and grants keep the identity provider's name (SESSION_IDP) beside oidc-provider's own fields.
  for (const model of [provider.Session, provider.Grant] as unknown as { IN_PAYLOAD: string[] }[]) {
    const fields = model.IN_PAYLOAD;
    Object.defineProperty(model, 'IN_PAYLOAD', { get: () => [...fields, SESSION_IDP] });
  }
  // Sessions also remember the policies whose MFA enrolment the person postponed (until the deadline).
  const sessionFields = (provider.Session as unknown as { IN_PAYLOAD: string[] }).IN_PAYLOAD;
  Object.defineProperty(provider.Session, 'IN_PAYLOAD', { get: () => [...sessionFields, SESSION_MFA_POSTPONED] });
  // The app's refresh-token reuse interval, around oidc-provider's own refresh_token grant.
  enableRefreshTokenReuseGrace(provider, { read: deps.read, write: deps.write, secret: deps.secret });
  // Mapped attributes and the groups claim have names each app chooses (https://app.hoop.dev/groups),
  // so they can't be declared as scope claims up front: add them after the standard scope filtering.
  const BaseClaims = provider.Claims as unknown as new (...args: unknown[]) => { available: ClaimsWithApp; result(): Promise<object> };
  const AppAwareClaims = class extends BaseClaims {
    override async result() {
      const claims = await super.result();
      const extra = this.available[APP_CLAIMS];
      return extra ? { ...claims, ...extra } : claims;
    }
  };
  Object.defineProperty(provider, 'Claims', { value: AppAwareClaims });
  // src/http/app.ts replaces Host and the X-Forwarded-* headers of every request with the issuer's
  // host and protocol and the one client address it believes: Koa may read them.
  provider.proxy = true;
  // Only a hash of each secret is stored: compare by hashing what the client presents. Either way of
  // presenting it is accepted whatever the app was registered with (RFC 6749 §2.3.1: Basic MUST be
  // supported for clients issued a secret; libraries such as Authlib use it at introspection and
  // revocation by default). oidc-provider still refuses a secret from a public client, no secret
  // from a confidential one, and both ways in one request.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return clientSecretMatches(actual, this.clientSecret);
  };
  // oidc-provider's own pages (form_post responses, the logout hand-off) get our page policy too; it
  // adds the hash of its inline script to script-src itself.
  provider.use(async (ctx, next) => {
    ctx.set('Content-Security-Policy', PAGE_CSP);
    ctx.set('X-Frame-Options', 'DENY');
    await next();
    if (!httpsIssuer) sameSiteNoneNeedsSecure(ctx);
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => deps.onServerError?.(error));
  // Every successful token request (code exchange, refresh) is an event for the audit log.
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const accountId = ctx.oidc.account?.accountId ?? (ctx.oidc.entities.AccessToken as { accountId?: string } | undefined)?.accountId;
    const client = ctx.oidc.client;
    if (!client) return;
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    const userAgent = ctx.get('user-agent') || undefined;
    // The app row and the access decision (with the user) were loaded for this request already: no new query.
    void Promise.all([access.appRow(client.clientId), accountId ? access.decide(accountId, client.clientId) : undefined]).then(([app, decision]) =>
      deps.onTokenIssued?.({
        accountId,
        username: decision?.user?.username,
        clientId: client.clientId,
        appId: app?.id,
        appLabel: app?.label ?? client.clientName,
        grantType,
        ip: ctx.ip,
        userAgent,
      }),
    );
  });
  return { provider, access };
}

