import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import formbody from '@fastify/formbody';
import proxyAddr from '@fastify/proxy-addr';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { TrustProxy } from '../config/config.ts';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { createProvider } from '../oidc/provider.ts';
import { type PolicyDecisionEvent, createPolicyGate } from '../authn/policies.ts';
import { purgeExpired } from '../oidc/adapter.ts';
import { createSessionService } from '../oidc/sessions.ts';
import type { Runtime } from '../runtime.ts';
import { registerErrorHandler } from './plugins/errors.ts';
import type { AccessResolver } from '../directory/access.ts';
import { BUILTIN_CLIENT_IDS } from '../directory/console-app.ts';
import type { BuiltinClientToken } from './plugins/api-auth.ts';
import { registerApi } from './routes/api/index.ts';
import { registerWebApps } from './routes/web-apps.ts';
import { registerFederationRoutes } from './routes/federation.ts';
import { registerInteractionRoutes } from './routes/interactions.ts';
import { registerWebAuthnRoutes } from './routes/webauthn.ts';
import { registerScim } from './routes/scim.ts';
import { type PreparedDocuments, prepareDocuments } from './prepared-documents.ts';
import { lazyCompilers, rememberCompilers } from './lazy-compilers.ts';

export interface AppOptions {
  /** How often to look for rotated signing keys and changed settings (ms). */
  keyPollIntervalMs?: number;
  purgeIntervalMs?: number;
  /** When the first sweep of expired rows runs after the start (ms; default 30 s). */
  firstPurgeDelayMs?: number;
  logLevel?: string;
  /** Where the built web apps (user portal, admin console) are (default web/dist). */
  consoleDist?: string;
  /** The time access policies count enrolment grace periods with (tests move it instead of waiting). */
  clock?: () => number;
  /** false: discovery and the JWKS answered by oidc-provider on each request (tests compare the two). */
  preparedDocuments?: boolean;
}

const PROVIDER_PATH = /^\/(?:oauth2\/|userinfo(?:$|[/?])|\.well-known\/(?:openid-configuration|jwks\.json)(?:$|\?))/;

/** proxy-addr's trust function: index 0 is the socket's peer, then X-Forwarded-For from right to left. */
function trustedProxies(setting: TrustProxy): (address: string, index: number) => boolean {
  if (setting === false) return () => false;
  if (typeof setting === 'number') return (_address, index) => index < setting;
  return proxyAddr.compile(setting);
}

/**
 * The composition root: Fastify serves our pages; requests for the protocol endpoints are handed,
 * unparsed, to oidc-provider. The provider instance is rebuilt when the signing keys change, since
 * oidc-provider reads its key set once.
 */
export async function buildApp(runtime: Runtime, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config, directory, keys, storage } = runtime;
  const issuerUrl = new URL(config.issuer);
  const trusted = trustedProxies(config.trustProxy);
  /**
   * Runs on every raw request before oidc-provider (Koa) or Fastify sees it, so that both agree:
   * - the client address is computed once, as the last trusted proxy saw it (proxy-addr semantics),
   *   and handed on as the only X-Forwarded-For entry, which both are told to believe;
   * - host and protocol are the issuer's, never the client's Host or X-Forwarded-Host, so every URL
   *   either builds (discovery, redirects, form actions) derives from the issuer, and a malformed
   *   Host can't break URL building. On an https issuer this also makes every cookie Secure, even
   *   when TLS ends at a proxy we were not told to trust: the issuer says browsers reach us over https.
   */
  function normaliseRequest(request: IncomingMessage): void {
    let clientAddress: string;
    try {
      clientAddress = proxyAddr(request, trusted);
    } catch {
      clientAddress = request.socket.remoteAddress ?? '';
    }
    request.headers['x-forwarded-for'] = clientAddress;
    request.headers.host = issuerUrl.host;
    request.headers['x-forwarded-proto'] = issuerUrl.protocol.slice(0, -1);
    delete request.headers['x-forwarded-host'];
    delete request.headers.forwarded;
  }

  // Set before either framework answers, so that every response carries them, errors included.
  // HSTS for a year, without includeSubDomains or preload: those commit every other name under the
  // issuer's domain to https, a decision for whoever runs the domain (their proxy can add it), not
  // for the identity provider on one of its hosts.
  const hsts = issuerUrl.protocol === 'https:' ? 'max-age=31536000' : undefined;
  const BASELINE_HEADERS: Record<string, string> = { 'X-Content-Type-Options': 'nosniff', ...(hsts ? { 'Strict-Transport-Security': hsts } : {}) };
  // Tests of `serve --workers` see which process answered; never set otherwise.
  const answeredBy = process.env.GATEHOUSE_TEST_WORKER_HEADER === '1' ? String(process.pid) : undefined;
  function setBaselineHeaders(request: IncomingMessage, response: ServerResponse): void {
    for (const name in BASELINE_HEADERS) response.setHeader(name, BASELINE_HEADERS[name] as string);
    if (answeredBy) response.setHeader('X-Gatehouse-Process', answeredBy);
    // API answers are per caller and often sensitive (users, keys, audit): never stored by a cache.
    if (/^\/api(?:[/?]|$)/.test(request.url ?? '')) response.setHeader('Cache-Control', 'no-store');
  }

  // Protocol requests go straight from the HTTP server to oidc-provider, unparsed: Fastify's routing
  // and request objects would only be overhead on the hottest paths. Everything else is Fastify's.
  const servePrepared = options.preparedDocuments !== false;
  let handleProtocol: (request: IncomingMessage, response: ServerResponse) => void = () => {};
  const compilers = lazyCompilers();
  const app = Fastify({
    serverFactory: (fastifyHandler) =>
      createServer((request, response) => {
        // Discovery and the JWKS from the bytes prepared at the last build: no framework, no engine.
        // First of all: they depend on neither the client's address nor its Host, and carry the baseline headers.
        if (servePrepared && current.documents.serve(request, response)) return;
        normaliseRequest(request);
        setBaselineHeaders(request, response);
        if (PROVIDER_PATH.test(request.url ?? '')) handleProtocol(request, response);
        else fastifyHandler(request, response);
      }),
    logger: {
      level: options.logLevel ?? process.env.GATEHOUSE_LOG_LEVEL ?? 'info',
      // Standard output belongs to the command (its listening line, --json); logs go to standard error.
      stream: process.stderr,
      // Query strings can carry codes and tokens: never log them.
      serializers: { req: (req) => ({ method: req.method, url: req.url.split('?')[0] ?? '' }) },
    },
    logController: new LogController({ disableRequestLogging: true }),
    // normaliseRequest has already replaced the forwarding headers with what we believe.
    trustProxy: true,
    bodyLimit: 64 * 1024,
    // The router's own refusals (a malformed URL, an over-long parameter) in the API's error shape.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      (reply as FastifyReply).status(tooLong ? 414 : 400).send({ code: 'request.bad', message: tooLong ? 'A path segment is too long.' : 'The URL is not valid.' });
    },
    routerOptions: { maxParamLength: 200 },
    // Unknown fields are refused, never silently dropped; every error is reported at once.
    // Schemas are compiled, and checked against the meta-schema, on each route's first use, not all at start-up (lazy-compilers.ts).
    ajv: { customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array', strictNumbers: false, validateSchema: false }, onCreate: compilers.onAjvCreate },
    schemaController: { compilersFactory: { buildSerializer: compilers.buildSerializer } },
  });
  rememberCompilers(app, compilers);

  const logServerError = (error: unknown) => app.log.error({ err: error }, 'oidc-provider error');
  // People's sessions and app grants (the portal's Sessions and apps), over whichever provider is current.
  const sessions = createSessionService({ db: storage.db, write: storage.write, provider: () => current.provider });
  /** Signing in and single sign-on into an app are uses of the Gatehouse session: from where, with what. */
  function recordSessionUse(ctx: KoaContextWithOIDC): void {
    const session = ctx.oidc?.session;
    if (!session?.accountId) return;
    sessions
      .touch({ sessionUid: session.uid, accountId: session.accountId, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined })
      .catch((error: unknown) => app.log.warn({ err: error }, 'could not record session activity'));
  }
  /** Access policy decisions that denied or asked for a second factor, in the audit log with the policy's name. */
  function auditPolicyDecision(event: PolicyDecisionEvent): void {
    void (async () => {
      const [user, app] = await Promise.all([
        directory.users.byId(event.accountId),
        event.resource.kind === 'app' ? directory.apps.get(event.resource.appId).catch(() => undefined) : undefined,
      ]);
      const target = event.resource.kind === 'portal' ? { type: 'app', id: 'user-portal', name: 'Gatehouse User Portal' } : { type: 'app', id: event.resource.appId, ...(app ? { name: app.label } : {}) };
      await directory.audit.record(
        { type: 'user', id: event.accountId, name: user?.username, ip: event.address },
        {
          action: 'user.access_policy',
          target,
          outcome: event.outcome === 'denied' ? 'failure' : 'success',
          details: { decision: event.outcome, policy: event.policy.name, policy_id: event.policy.id, ...(event.deadline ? { enrolment_deadline: event.deadline } : {}) },
        },
      );
    })().catch((error: unknown) => app.log.error({ err: error }, 'could not write an audit event'));
  }
  const policyGate = createPolicyGate({
    policies: directory.accessPolicies,
    hasSecondFactor: (userId) => runtime.factors.hasSecondFactor(userId),
    ...(options.clock ? { clock: options.clock } : {}),
    onDecision: auditPolicyDecision,
  });
  async function build(): Promise<{ provider: Provider; access: AccessResolver; handle: ReturnType<Provider['callback']>; fingerprint: string; documents: PreparedDocuments }> {
    const [keyFingerprint, settingsVersion, settings, keyList] = await Promise.all([keys.fingerprint(), directory.settings.version(), directory.settings.get(), keys.list()]);
    const fingerprint = `${keyFingerprint}|${settingsVersion}`;
    const { provider, access } = createProvider({
      lifetimes: { accessToken: settings.access_token_ttl, idToken: settings.id_token_ttl, session: settings.session_ttl },
      issuer: config.issuer,
      db: storage.db,
      read: storage.read,
      write: storage.write,
      dialect: storage.dialect,
      jwks: await keys.providerJwks(),
      secret: runtime.secret,
      onServerError: logServerError,
      policyGate,
      // Written after the response, off the token endpoint's latency.
      onTokenIssued: (event) => {
        const actor = event.accountId ? ({ type: 'user', id: event.accountId, name: event.username } as const) : ({ type: 'system' } as const);
        directory.audit
          .record(
            { ...actor, ip: event.ip, userAgent: event.userAgent },
            { action: 'token.issue', target: { type: 'app', id: event.appId ?? event.clientId, name: event.appLabel }, details: { grant_type: event.grantType, client_id: event.clientId } },
          )
          .catch((error: unknown) => app.log.error({ err: error }, 'could not write an audit event'));
      },
    });
    provider.on('authorization.success', recordSessionUse);
    const handle = provider.callback();
    // Discovery and the JWKS only change with this build: their bytes, as the provider answers them, once.
    const documents = await prepareDocuments({
      handle: (request, response) => {
        normaliseRequest(request);
        handle(request, response);
      },
      baselineHeaders: BASELINE_HEADERS,
      newestKeyCreatedAt: Math.max(0, ...keyList.map((key) => Date.parse(key.created))),
    });
    return { provider, access, handle, fingerprint, documents };
  }

  let current = await build();
  handleProtocol = (request, response) => current.handle(request, response);
  const keyPoll = setInterval(async () => {
    try {
      const [keyFingerprint, settingsVersion] = await Promise.all([keys.fingerprint(), directory.settings.version()]);
      if (`${keyFingerprint}|${settingsVersion}` !== current.fingerprint) {
        current = await build();
        app.log.info('signing keys or settings changed: provider reloaded');
      }
    } catch (error) {
      app.log.warn({ err: error }, 'could not check signing keys');
    }
  }, options.keyPollIntervalMs ?? 5_000);
  keyPoll.unref();
  const purgeNow = () => purgeExpired(storage.db).catch((error: unknown) => app.log.warn({ err: error }, 'could not purge expired rows'));
  // Not at once: with many sessions a sweep reads much of the database, for hundreds of ms on the
  // event loop, and a (re)started server would answer its first requests only after it.
  const firstPurge = setTimeout(purgeNow, options.firstPurgeDelayMs ?? 30_000);
  firstPurge.unref();
  const purge = setInterval(purgeNow, options.purgeIntervalMs ?? 10 * 60_000);
  purge.unref();
  app.addHook('onClose', async () => {
    clearInterval(keyPoll);
    clearTimeout(firstPurge);
    clearInterval(purge);
  });

  await app.register(formbody, { bodyLimit: 16 * 1024 });
  registerErrorHandler(app);
  // Upstream identity providers: the /oauth/callback route and the routing the sign-in pages use.
  const federation = registerFederationRoutes(app, {
    provider: () => current.provider,
    access: () => current.access,
    directory,
    db: storage.db,
    secret: runtime.secret,
    issuer: config.issuer,
  });
  const signInPages = registerInteractionRoutes(app, {
    provider: () => current.provider,
    appRow: (clientId) => current.access.appRow(clientId),
    directory,
    secret: runtime.secret,
    issuer: config.issuer,
    federation,
    factors: runtime.factors,
  });
  registerWebAuthnRoutes(app, { provider: () => current.provider, directory, webauthn: runtime.webauthn, pages: signInPages });
  // The admin console and the user portal call the API with the access token Gatehouse issued them.
  // The token's grant is looked up too: the adapter re-checks access there (active, unlocked, and for
  // the console still an administrator).
  async function builtinClientToken(value: string): Promise<BuiltinClientToken | undefined> {
    const { provider } = current;
    const token = await provider.AccessToken.find(value);
    const clientId = token?.clientId;
    if (!token || token.isExpired || !clientId || !BUILTIN_CLIENT_IDS.includes(clientId) || !token.accountId || !token.grantId) return undefined;
    const grant = await provider.Grant.find(token.grantId);
    if (grant?.accountId !== token.accountId || grant.clientId !== clientId) return undefined;
    return { accountId: token.accountId, clientId, grantId: token.grantId, sessionUid: token.sessionUid };
  }
  await registerApi(app, { directory, runtime, builtinClientToken, sessions });
  await registerScim(app, { directory, runtime });
  // The user portal at the issuer's root (which replaces the old "Gatehouse is running" page) and the admin console at /admin.
  await registerWebApps(app, { issuer: config.issuer, ...(options.consoleDist ? { dist: options.consoleDist } : {}) });

  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
