/**
 * A Microsoft Entra ID look-alike for tests, built on oidc-provider and served over http on
 * 127.0.0.1. What a relying party sees is shaped like Entra's v2.0 endpoints:
 * - per tenant, discovery at `/<tid>/v2.0/.well-known/openid-configuration` with issuer
 *   `<origin>/<tid>/v2.0`, authorization at `/<tid>/oauth2/v2.0/authorize`, token at
 *   `/<tid>/oauth2/v2.0/token`, keys at `/<tid>/discovery/v2.0/keys` (a tenant's verified domain
 *   works in place of its GUID, as `login.microsoftonline.com/contoso.com` does);
 * - `/common/v2.0` and `/organizations/v2.0` discovery documents whose issuer is the literal
 *   `<origin>/{tenantid}/v2.0` template; their ID tokens carry the person's own tenant's issuer;
 * - ID tokens with `tid`, `oid`, a pairwise `sub` (differs per app), `preferred_username`, `name`,
 *   `ver: "2.0"`, `email` and `xms_edov` only when the person has them, and never `email_verified`.
 * All tenants share one signing key set, as Entra's do.
 *
 * Nobody types anything: the authorization endpoint signs in the person set with `signInAs`, or
 * else the person whose username or email equals the `login_hint`. Knobs (`sabotage`) break things
 * for negative tests: an ID token re-signed with a wrong nonce/aud/iss, expired, or signed with a key
 * not in the JWKS; `error=access_denied` at the authorization endpoint; a slow or dead token endpoint.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type CryptoKey, type JWK, SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider, { type Adapter, type AdapterPayload, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { freePort } from './net.ts';

export interface EntraPersonInput {
  /** The tenant (GUID) the person's account lives in; the tenant is created when missing. */
  tenant: string;
  /** The user principal name, sent as `preferred_username`. */
  username: string;
  name: string;
  /** The optional `email` claim (absent when not given). */
  email?: string | undefined;
  /** The optional `xms_edov` claim, sent only with `email` (absent when not given). */
  xms_edov?: boolean | undefined;
  /** Authentication methods put in the ID token's `amr` (absent when not given, as Entra v2.0). */
  amr?: string[] | undefined;
  /** The object id; a fresh GUID when not given. */
  oid?: string | undefined;
  /**
   * Claims added as they are (for the helper standing in for a generic OpenID provider, e.g.
   * `email_verified: false`); Entra itself never sends email_verified.
   */
  claims?: Record<string, unknown> | undefined;
}

export interface EntraPerson extends Required<Pick<EntraPersonInput, 'tenant' | 'username' | 'name' | 'oid'>> {
  email?: string | undefined;
  xms_edov?: boolean | undefined;
  amr?: string[] | undefined;
  claims?: Record<string, unknown> | undefined;
}

export interface EntraApp {
  clientId: string;
  clientSecret: string;
}

/** How to break the next token responses (until `reset()`). */
export interface EntraSabotage {
  /** The ID token is re-signed with that defect. */
  idToken?: 'wrong_nonce' | 'wrong_aud' | 'wrong_iss' | 'expired' | 'bad_signature' | 'unknown_key' | undefined;
  /** The authorization endpoint answers the app with this error (e.g. `access_denied`). */
  authorizationError?: string | undefined;
  /** The token endpoint waits this long before answering. */
  tokenDelayMs?: number | undefined;
  /** The token endpoint drops the connection without an answer. */
  tokenEndpointDown?: boolean | undefined;
}

export interface TestEntra {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** What an administrator pastes as the "Entra IdP URL": `<origin>/<tenant>` (GUID, domain, `common`, `organizations`). */
  tenantUrl(tenant: string): string;
  /** The tenant's issuer: `<origin>/<tid>/v2.0`. */
  issuerFor(tenant: string): string;
  /** A new tenant (a fresh GUID unless given), optionally with verified domains usable in its URL. */
  addTenant(tid?: string, options?: { domains?: string[] }): string;
  addPerson(person: EntraPersonInput): EntraPerson;
  /** An app registration, valid in every tenant (a multi-tenant app), with its redirect URIs. */
  registerApp(options: { redirectUris: string[]; authMethod?: 'client_secret_post' | 'client_secret_basic'; clientId?: string; clientSecret?: string }): EntraApp;
  /** The person the next sign-ins complete as (null: go back to matching the login_hint). */
  signInAs(person: EntraPerson | null): void;
  sabotage(knobs: EntraSabotage): void;
  /** Clears sabotage and signInAs. */
  reset(): void;
  /** Requests seen, per endpoint kind, since start (or `resetCounts()`). */
  counts: { authorization: number; token: number; discovery: number; jwks: number };
  resetCounts(): void;
  /** The `sub` the app with that client id receives for this person (pairwise). */
  subFor(person: EntraPerson, clientId: string): string;
  /** Publishes a new signing key (added to the JWKS, as Entra rolls keys) and signs ID tokens with it from now on. */
  rotateSigningKey(): Promise<string>;
  close(): Promise<void>;
}

const MULTI_TENANT = new Set(['common', 'organizations']);
const KEY_ID = 'entra-test-key';

const CLAIMS = {
  openid: ['sub', 'tid', 'oid', 'ver', 'amr'],
  profile: ['name', 'preferred_username'],
  // email_verified only ever comes from a person's `claims` (generic-provider stand-in).
  email: ['email', 'xms_edov', 'email_verified'],
};

/** oidc-provider's storage, in memory; clients come from the helper's app registrations. */
function adapterFactory(apps: Map<string, Record<string, unknown>>) {
  const stores = new Map<string, Map<string, { payload: AdapterPayload; expiresAt?: number | undefined }>>();
  return (name: string): Adapter => {
    let store = stores.get(name);
    if (!store) {
      store = new Map();
      stores.set(name, store);
    }
    const entries = store;
    const live = (id: string) => {
      const entry = entries.get(id);
      if (!entry) return undefined;
      if (entry.expiresAt !== undefined && entry.expiresAt < Date.now()) {
        entries.delete(id);
        return undefined;
      }
      return entry.payload;
    };
    return {
      async upsert(id, payload, expiresIn) {
        entries.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
      },
      async find(id) {
        if (name === 'Client') return apps.get(id) as AdapterPayload | undefined;
        return live(id);
      },
      async findByUid(uid) {
        for (const [id, entry] of entries) if (entry.payload.uid === uid) return live(id);
        return undefined;
      },
      async findByUserCode(userCode) {
        for (const [id, entry] of entries) if (entry.payload.userCode === userCode) return live(id);
        return undefined;
      },
      async consume(id) {
        const payload = live(id);
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(id);
      },
      async revokeByGrantId(grantId) {
        for (const [id, entry] of entries) if (entry.payload.grantId === grantId) entries.delete(id);
      },
    };
  };
}

/** Grants what the app asks for without a consent screen (oidc-provider's first-party recipe). */
async function autoApprovedGrant(ctx: KoaContextWithOIDC) {
  const { client, session } = ctx.oidc;
  if (!client || !session?.accountId) return undefined;
  const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
  if (!grant) grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
  grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startEntra(): Promise<TestEntra> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid: KEY_ID, alg: 'RS256', use: 'sig' };
  // Signs the "bad signature" tokens: a key the JWKS never lists.
  const { privateKey: strangerKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const pairwiseSalt = randomBytes(16).toString('hex');
  const cookieKey = randomBytes(32).toString('base64url');

  const apps = new Map<string, Record<string, unknown>>();
  const people = new Map<string, EntraPerson>();
  const tenants = new Map<string, Provider>();
  const domainAliases = new Map<string, string>();
  const adapter = adapterFactory(apps);
  let nextPerson: EntraPerson | null = null;
  let knobs: EntraSabotage = {};
  const counts = { authorization: 0, token: 0, discovery: 0, jwks: 0 };

  const accountKey = (person: EntraPerson) => `${person.tenant}.${person.oid}`;
  const pairwise = (accountId: string, clientId: string) =>
    createHash('sha256').update(`${pairwiseSalt}|${accountId}|${clientId}`).digest('base64url').slice(0, 43);

  // Keys published by rotateSigningKey: the newest signs, all stay in the JWKS.
  const rotatedKeys: { kid: string; privateKey: CryptoKey; publicJwk: JWK }[] = [];

  async function resign(idToken: string, scope: string): Promise<string> {
    const header = decodeProtectedHeader(idToken);
    const payload = decodeJwt(idToken);
    // Multi-tenant endpoints issue the token as the person's own tenant, as Entra does.
    if (MULTI_TENANT.has(scope)) payload.iss = `${origin}/${String(payload.tid)}/v2.0`;
    const now = Math.floor(Date.now() / 1000);
    const newest = rotatedKeys.at(-1);
    let key: CryptoKey | Uint8Array = newest?.privateKey ?? privateKey;
    let kid = newest?.kid ?? KEY_ID;
    switch (knobs.idToken) {
      case 'wrong_nonce':
        payload.nonce = randomBytes(16).toString('base64url');
        break;
      case 'wrong_aud':
        payload.aud = randomUUID();
        break;
      case 'wrong_iss':
        payload.iss = `${origin}/${randomUUID()}/v2.0`;
        break;
      case 'expired':
        payload.iat = now - 7200;
        payload.nbf = now - 7200;
        payload.exp = now - 3600;
        break;
      case 'bad_signature':
        key = strangerKey;
        break;
      case 'unknown_key':
        key = strangerKey;
        kid = 'not-in-the-jwks';
        break;
      default:
        break;
    }
    return new SignJWT(payload).setProtectedHeader({ ...header, alg: 'RS256', kid }).sign(key);
  }

  function createTenantProvider(scope: string): Provider {
    const issuer = `${origin}/${scope}/v2.0`;
    const configuration: Configuration = {
      adapter,
      jwks: { keys: [privateJwk] } as Configuration['jwks'],
      async findAccount(_ctx, accountId) {
        const person = people.get(accountId);
        if (!person) return undefined;
        return {
          accountId,
          async claims() {
            return {
              sub: accountId,
              tid: person.tenant,
              oid: person.oid,
              ver: '2.0',
              name: person.name,
              preferred_username: person.username,
              ...(person.email === undefined ? {} : { email: person.email }),
              ...(person.email === undefined || person.xms_edov === undefined ? {} : { xms_edov: person.xms_edov }),
              ...person.claims,
            };
          },
        };
      },
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      claims: CLAIMS,
      conformIdTokenClaims: false,
      responseTypes: ['code'],
      subjectTypes: ['public', 'pairwise'],
      pairwiseIdentifier: async (_ctx, accountId, client) => pairwise(accountId, client.clientId),
      clientAuthMethods: ['client_secret_post', 'client_secret_basic'],
      pkce: { required: () => false },
      routes: {
        authorization: '/oauth2/v2.0/authorize',
        token: '/oauth2/v2.0/token',
        jwks: '/discovery/v2.0/keys',
        userinfo: '/oidc/userinfo',
        end_session: '/oauth2/v2.0/logout',
      },
      cookies: {
        keys: [cookieKey],
        // Not oidc-provider's default names: Gatehouse, on the same host, uses those.
        names: { session: `entra_session_${scope}`, interaction: `entra_interaction_${scope}`, resume: `entra_resume_${scope}` },
        long: { httpOnly: true, sameSite: 'lax', signed: true },
        short: { httpOnly: true, sameSite: 'lax', signed: true },
      },
      features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
      interactions: { url: (_ctx, interaction) => `/${scope}/interaction/${interaction.uid}` },
      loadExistingGrant: autoApprovedGrant,
      ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 300, Interaction: 600, Session: 3600, Grant: 3600 },
    };
    const provider = new Provider(issuer, configuration);
    provider.use(async (ctx, next) => {
      if (ctx.path === '/oauth2/v2.0/authorize') counts.authorization += 1;
      if (ctx.path === '/discovery/v2.0/keys') counts.jwks += 1;
      if (ctx.path === '/oauth2/v2.0/token') {
        counts.token += 1;
        if (knobs.tokenEndpointDown) {
          ctx.req.socket.destroy();
          ctx.respond = false;
          return;
        }
        // unref: a test that gave up on the answer should not wait for this timer to exit.
        if (knobs.tokenDelayMs) await new Promise((resolve) => setTimeout(resolve, knobs.tokenDelayMs).unref());
      }
      await next();
      const body = ctx.body as Record<string, unknown> | undefined;
      if (ctx.path === '/.well-known/openid-configuration' && body) {
        // Entra does not do RFC 9207 (no `iss` in authorization responses).
        const { authorization_response_iss_parameter_supported: _, ...document } = body;
        ctx.body = MULTI_TENANT.has(scope) ? { ...document, issuer: `${origin}/{tenantid}/v2.0` } : document;
      }
      const location = ctx.response.get('location');
      if (location && /[?&#]iss=/.test(location)) {
        const url = new URL(location);
        url.searchParams.delete('iss');
        const fragment = new URLSearchParams(url.hash.slice(1));
        fragment.delete('iss');
        url.hash = fragment.size ? fragment.toString() : '';
        ctx.set('location', url.href);
      }
      if (typeof ctx.body === 'string' && ctx.body.includes('name="iss"')) {
        ctx.body = ctx.body.replace(/<input type="hidden" name="iss" value="[^"]*"\/>/, '');
      }
      if (ctx.path === '/discovery/v2.0/keys' && Array.isArray(body?.keys) && rotatedKeys.length) {
        ctx.body = { keys: [...body.keys, ...rotatedKeys.map((rotated) => rotated.publicJwk)] };
      }
      if (ctx.path === '/oauth2/v2.0/token' && typeof body?.id_token === 'string' && (knobs.idToken || MULTI_TENANT.has(scope) || rotatedKeys.length)) {
        ctx.body = { ...body, id_token: await resign(body.id_token, scope) };
      }
    });
    return provider;
  }

  function addTenant(tid: string = randomUUID(), options: { domains?: string[] } = {}): string {
    if (!tenants.has(tid)) tenants.set(tid, createTenantProvider(tid));
    for (const domain of options.domains ?? []) domainAliases.set(domain.toLowerCase(), tid);
    return tid;
  }
  for (const scope of MULTI_TENANT) tenants.set(scope, createTenantProvider(scope));

  function choosePerson(scope: string, loginHint: unknown): EntraPerson | undefined {
    const candidates = [...people.values()].filter((p) => MULTI_TENANT.has(scope) || p.tenant === scope);
    if (nextPerson) return candidates.includes(nextPerson) ? nextPerson : undefined;
    if (typeof loginHint !== 'string') return undefined;
    const hint = loginHint.toLowerCase();
    return candidates.find((p) => p.username.toLowerCase() === hint) ?? candidates.find((p) => p.email?.toLowerCase() === hint);
  }

  /** The authorization endpoint's sign-in, completed without a page. */
  async function interact(scope: string, provider: Provider, req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    const finish = (result: Record<string, unknown>) => provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    if (knobs.authorizationError) {
      return finish({ error: knobs.authorizationError, error_description: 'AADSTS65004: User declined to consent to access the app.' });
    }
    if (details.prompt.name === 'login') {
      const person = choosePerson(scope, details.params.login_hint);
      if (!person) return finish({ error: 'access_denied', error_description: 'the test Entra has nobody to sign in for this request' });
      return finish({ login: { accountId: accountKey(person), ...(person.amr ? { amr: person.amr } : {}) } });
    }
    return finish({ error: 'access_denied', error_description: `the test Entra cannot answer the ${details.prompt.name} prompt` });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const [, first = '', ...rest] = url.pathname.split('/');
    const scope = domainAliases.get(first.toLowerCase()) ?? first;
    const provider = tenants.get(scope);
    if (!provider) return sendJson(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${first}' not found.` });
    let path = `/${rest.join('/')}`;
    if (path.startsWith('/interaction/')) {
      interact(scope, provider, req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 400, { error: 'interaction_failed', error_description: String(error) });
      });
      return;
    }
    // Discovery lives under /v2.0, the endpoints beside it (as Microsoft's); oidc-provider is mounted at /<tenant>.
    if (path === '/v2.0/.well-known/openid-configuration') {
      path = '/.well-known/openid-configuration';
      counts.discovery += 1;
    } else if (path.startsWith('/v2.0/') || path === '/.well-known/openid-configuration') {
      return sendJson(res, 404, { error: 'not_found' });
    }
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = `/${first}${path}${url.search}`;
    req.url = `${path}${url.search}`;
    provider.callback()(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });

  return {
    origin,
    tenantUrl: (tenant) => `${origin}/${tenant}`,
    issuerFor: (tenant) => `${origin}/${domainAliases.get(tenant.toLowerCase()) ?? tenant}/v2.0`,
    addTenant,
    addPerson(input) {
      addTenant(input.tenant);
      const person: EntraPerson = { ...input, oid: input.oid ?? randomUUID() };
      people.set(accountKey(person), person);
      return person;
    },
    registerApp(options) {
      const app: EntraApp = { clientId: options.clientId ?? randomUUID(), clientSecret: options.clientSecret ?? randomBytes(24).toString('base64url') };
      apps.set(app.clientId, {
        client_id: app.clientId,
        client_secret: app.clientSecret,
        redirect_uris: options.redirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: options.authMethod ?? 'client_secret_post',
        id_token_signed_response_alg: 'RS256',
        subject_type: 'pairwise',
      });
      return app;
    },
    signInAs(person) {
      nextPerson = person;
    },
    sabotage(next) {
      knobs = { ...knobs, ...next };
    },
    reset() {
      knobs = {};
      nextPerson = null;
    },
    counts,
    resetCounts() {
      counts.authorization = 0;
      counts.token = 0;
      counts.discovery = 0;
      counts.jwks = 0;
    },
    subFor: (person, clientId) => pairwise(accountKey(person), clientId),
    async rotateSigningKey() {
      const kid = `entra-test-key-${rotatedKeys.length + 1}`;
      const pair = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
      rotatedKeys.push({ kid, privateKey: pair.privateKey, publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' } });
      return kid;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
