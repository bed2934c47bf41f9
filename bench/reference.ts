/**
 * The reference: a bare oidc-provider (the installed version) with its default in-memory adapter,
 * run as a child process. It shares Gatehouse's protocol settings: one static confidential client
 * (client_secret_basic, authorization_code + refresh_token), an RS256 key, the same TTLs, refresh
 * token rotation, PKCE only for public clients. People sign in through devInteractions; consent is
 * skipped the way oidc-provider documents for first-party apps (loadExistingGrant), as Gatehouse
 * does for admin-registered apps.
 *
 * Its sign-in verifies the bench user's password with Gatehouse's own argon2id code (same
 * parameters, same cap on hashes in flight) as the form is submitted, so the sign-in row compares
 * the rest of the work: what the protocol engine by itself costs around one verify.
 *
 * Its storage is in memory (ReferenceAdapter, below), without the bound and the per-grant walk of
 * oidc-provider's development MemoryAdapter.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Adapter, type AdapterPayload, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { DEFAULT_REFRESH_TOKEN_TTL } from '../src/directory/apps.ts';
import { hashPassword, verifyPassword } from '../src/directory/passwords.ts';
import { ID_TOKEN_TTL } from '../src/oidc/keys.ts';
import { DEFAULT_SETTINGS } from '../src/directory/settings.ts';
import { AUTHORIZATION_CODE_TTL, INTERACTION_TTL } from '../src/oidc/provider.ts';
import { BENCH_USER, REDIRECT_URI, SCOPE } from './gatehouse.ts';
import { type ChildServer, type TargetInfo, freePort, serveInChild, startChild } from './lib.ts';

/** The same claims per scope as Gatehouse, plus the groups claim the benchmark app has. */
const CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at', 'groups'],
  email: ['email', 'email_verified'],
};

/**
 * The reference's store: every payload in a Map until it expires. oidc-provider's own MemoryAdapter
 * is a development aid that keeps each grant's tokens in one map and walks all of it on every write
 * (to drop expired members). The bench's codes all come from 8 signed-in sessions, so 8 grants
 * collect thousands of tokens each, and that walk cost the reference about 150 µs per code exchange
 * and 500 µs per refresh (CPU profiles, 2026-12-05), growing with the run: a cost no deployment's
 * engine pays, which made Gatehouse's ratios look better than they are. Its LRU bound (1000
 * entries) also evicted codes minted ahead. This store does the same work with neither: a grant's
 * members are a Set, expiry is checked on read.
 */
const stored = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
const sessionIdsByUid = new Map<string, string>();
const idsByUserCode = new Map<string, string>();
const grantMembers = new Map<string, Set<string>>();

class ReferenceAdapter implements Adapter {
  readonly model: string;

  constructor(model: string) {
    this.model = model;
  }

  private key(id: string): string {
    return `${this.model}:${id}`;
  }

  private live(key: string) {
    const entry = stored.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      stored.delete(key);
      return undefined;
    }
    return entry;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const key = this.key(id);
    if (this.model === 'Session' && payload.uid) sessionIdsByUid.set(payload.uid, id);
    if (payload.userCode) idsByUserCode.set(payload.userCode, id);
    if (payload.grantId) {
      const members = grantMembers.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      grantMembers.set(payload.grantId, members);
    }
    stored.set(key, { payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.live(this.key(id))?.payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = sessionIdsByUid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = idsByUserCode.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id: string): Promise<void> {
    const entry = this.live(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    const key = this.key(id);
    const payload = stored.get(key)?.payload;
    stored.delete(key);
    if (!payload) return;
    if (payload.uid && sessionIdsByUid.get(payload.uid) === id) sessionIdsByUid.delete(payload.uid);
    if (payload.userCode && idsByUserCode.get(payload.userCode) === id) idsByUserCode.delete(payload.userCode);
    if (payload.grantId) grantMembers.get(payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of grantMembers.get(grantId) ?? []) {
      const payload = stored.get(key)?.payload;
      stored.delete(key);
      if (payload?.uid && sessionIdsByUid.get(payload.uid) === payload.jti) sessionIdsByUid.delete(payload.uid);
    }
    grantMembers.delete(grantId);
  }
}

/** Grants whatever the client asks for, without a consent screen (oidc-provider's first-party recipe). */
async function autoApprovedGrant(ctx: KoaContextWithOIDC) {
  const { client, session } = ctx.oidc;
  if (!client || !session?.accountId) return undefined;
  const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
  let changed = false;
  if (!grant) {
    grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    changed = true;
  }
  const scopes = new Set(grant.getOIDCScopeEncountered().split(' '));
  const newScopes = [...ctx.oidc.requestParamOIDCScopes].filter((scope) => !scopes.has(scope));
  if (newScopes.length) {
    grant.addOIDCScope(newScopes.join(' '));
    changed = true;
  }
  const claims = new Set(grant.getOIDCClaimsEncountered());
  const newClaims = [...ctx.oidc.requestParamClaims].filter((claim) => !claims.has(claim));
  if (newClaims.length) {
    grant.addOIDCClaims(newClaims);
    changed = true;
  }
  if (changed) await grant.save();
  return grant;
}

async function serve(): Promise<{ info: TargetInfo; close(): Promise<void> }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  const clientId = randomUUID();
  const clientSecret = randomBytes(32).toString('base64url');
  const cookieKey = randomBytes(32).toString('base64url');

  const configuration: Configuration = {
    adapter: ReferenceAdapter,
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [REDIRECT_URI],
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [{ ...jwk, kid: 'bench', alg: 'RS256', use: 'sig' }] } as Configuration['jwks'],
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            name: 'Bench User',
            given_name: 'Bench',
            family_name: 'User',
            preferred_username: BENCH_USER.username,
            updated_at: Math.floor(Date.now() / 1000),
            email: BENCH_USER.email,
            email_verified: true,
            groups: ['All Users'],
          };
        },
      };
    },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: CLAIMS,
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: (_ctx, client) => client.tokenEndpointAuthMethod === 'none' },
    rotateRefreshToken: true,
    // oidc-provider keeps offline_access only when prompt=consent (OIDC Core §11); Gatehouse
    // pre-approves offline access for apps with the refresh grant on. The same effect here: a
    // refresh token with every code for such a client, independent of the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    cookies: {
      keys: [cookieKey],
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    ttl: {
      AccessToken: DEFAULT_SETTINGS.access_token_ttl,
      AuthorizationCode: AUTHORIZATION_CODE_TTL,
      IdToken: ID_TOKEN_TTL,
      Interaction: INTERACTION_TTL,
      Session: DEFAULT_SETTINGS.session_ttl,
      Grant: DEFAULT_REFRESH_TOKEN_TTL,
      RefreshToken: DEFAULT_REFRESH_TOKEN_TTL,
    },
    features: {
      devInteractions: { enabled: true },
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      revocation: { enabled: true },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
    },
    loadExistingGrant: autoApprovedGrant,
  };

  const provider = new Provider(issuer, configuration);
  // devInteractions accepts any password; do the verify a real sign-in does when its form is posted
  // (the only POST under /interaction/ here: consent is skipped).
  const passwordHash = await hashPassword(BENCH_USER.password);
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path.startsWith('/interaction/') && !(await verifyPassword(passwordHash, BENCH_USER.password))) {
      throw new Error('the reference could not verify the bench password');
    }
    await next();
  });
  const server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    info: {
      name: 'oidc-provider (reference)',
      issuer,
      clientId,
      clientSecret,
      redirectUri: REDIRECT_URI,
      // devInteractions accepts any login and password.
      username: BENCH_USER.username,
      password: BENCH_USER.password,
      scope: SCOPE,
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const startReference = (execArgv: string[] = []): Promise<ChildServer> => startChild(new URL(import.meta.url), ['--serve'], { execArgv });

if (import.meta.main && process.argv[2] === '--serve') {
  await serveInChild(serve);
}
