import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sendPage } from './page-reply.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { AccessResolver } from '../../directory/access.ts';
import type { Actor, AuditTarget } from '../../directory/audit.ts';
import type { Directory } from '../../directory/index.ts';
import type { User } from '../../directory/users.ts';
import { FLOW_TTL_SECONDS, createFlowStore, sha256 } from '../../federation/flows.ts';
import { type MatchResult, matchIdentity, stateRefusal } from '../../federation/sign-in.ts';
import { FEDERATION_CALLBACK_PATH, type FederationFailureReason, type IdentityProvider, type UpstreamConfiguration } from '../../federation/types.ts';
import { UpstreamError, completeUpstreamSignIn, startUpstreamSignIn } from '../../federation/upstream.ts';
import { SESSION_IDP } from '../../oidc/account.ts';
import { federationErrorPage } from '../../oidc/views.ts';
import type { Database } from '../../storage/schema.ts';

/** The browser-binding cookie: a flow's callback is accepted only from the browser that began it. */
const BINDING_COOKIE = 'gatehouse_federation';


export interface FederationDeps {
  provider: () => Provider;
  access: () => AccessResolver;
  directory: Directory;
  db: Kysely<Database>;
  secret: Buffer;
  issuer: string;
}

export interface Federation {
  /**
   * The provider this typed name signs in at, if any: a routed user's provider, or the provider whose
   * domain rule matches the typed email's domain (known or unknown person).
   */
  routeOf(typed: string): Promise<IdentityProvider | undefined>;
  /** Sends the browser to the provider (303), or answers with a page saying why it can't. */
  start(request: FastifyRequest, reply: FastifyReply, interaction: { uid: string; params: Record<string, unknown> }, provider: IdentityProvider, loginHint: string): Promise<FastifyReply>;
}

type Failure = { reason: FederationFailureReason; message: string; status: number; detail?: string | undefined; user?: User | undefined };

const TITLES: Partial<Record<FederationFailureReason, string>> = {
  no_match: 'No Gatehouse account',
  unverified_email: 'Your email could not be confirmed',
  several_matches: 'Your account could not be chosen',
  not_assigned: "You don't have access",
  suspended: 'Your account cannot sign in',
  locked: 'Your account cannot sign in',
  staged: 'Your account cannot sign in',
};

function cookieValue(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/**
 * The upstream leg's HTTP side: starting a federated sign-in from the sign-in pages, and the one
 * callback every provider is given, `<issuer>/oauth/callback` (GET for response_mode=query, POST
 * for form_post). Every refusal is a page with a way to start again and a `federation.sign_in`
 * audit event with its reason; nothing is created or linked unless the whole sign-in passes.
 */
export function registerFederationRoutes(app: FastifyInstance, deps: FederationDeps): Federation {
  const flows = createFlowStore(deps.db, deps.secret);
  const httpsIssuer = deps.issuer.startsWith('https:');
  const issuerOrigin = new URL(deps.issuer).origin;
  const retryUrl = (uid: string) => `${issuerOrigin}/interaction/${uid}`;

  function actorOf(request: FastifyRequest, user?: { id: string; username: string }): Actor {
    return user
      ? { type: 'user', id: user.id, name: user.username, ip: request.ip, userAgent: request.headers['user-agent'] }
      : { type: 'anonymous', ip: request.ip, userAgent: request.headers['user-agent'] };
  }

  async function appTarget(clientId: unknown): Promise<AuditTarget | undefined> {
    if (typeof clientId !== 'string') return undefined;
    const row = await deps.access().appRow(clientId).catch(() => undefined);
    return row ? { type: 'app', id: row.id, name: row.label } : { type: 'app', id: clientId };
  }

  async function audit(request: FastifyRequest, user: User | undefined, target: AuditTarget | undefined, outcome: 'success' | 'failure', details: Record<string, unknown>) {
    await deps.directory.audit
      .record(actorOf(request, user), { action: 'federation.sign_in', target, outcome, details })
      .catch((error: unknown) => request.log.error({ err: error }, 'could not write an audit event'));
  }

  async function refuse(request: FastifyRequest, reply: FastifyReply, failure: Failure, context: { uid?: string | undefined; clientId?: unknown; provider?: IdentityProvider | undefined }) {
    await audit(request, failure.user, await appTarget(context.clientId), 'failure', {
      reason: failure.reason,
      ...(context.provider ? { identity_provider: context.provider.name } : {}),
      ...(failure.detail ? { detail: failure.detail } : {}),
    });
    const title = TITLES[failure.reason] ?? 'Sign-in could not finish';
    return sendPage(reply, failure.status, federationErrorPage({ title, message: failure.message, retryUrl: context.uid ? retryUrl(context.uid) : undefined }));
  }

  const upstreamFailure = (error: unknown, provider: IdentityProvider): Failure => {
    if (error instanceof UpstreamError) {
      const message =
        error.reason === 'tenant_not_allowed' ? `Your organisation's ${provider.name} directory is not one this Gatehouse accepts sign-ins from. Ask your administrator.`
        : error.reason === 'token_invalid' ? `${provider.name} sent a sign-in that Gatehouse could not verify. Try again; if it keeps happening, tell your administrator.`
        : error.reason === 'state_invalid' ? 'This sign-in response does not belong to a sign-in started in this browser. Start again from the application.'
        : `${provider.name} could not be reached or refused the sign-in. Try again in a moment; if it keeps happening, tell your administrator.`;
      return { reason: error.reason, message, status: error.reason === 'upstream_error' ? 502 : 400, detail: error.detail };
    }
    // Not foreseen (a library refusing the configuration, say): still the provider's failure, never a 500.
    return { reason: 'upstream_error', status: 502, message: `${provider.name} could not be reached or refused the sign-in. Try again in a moment; if it keeps happening, tell your administrator.`, detail: error instanceof Error ? error.message.slice(0, 300) : 'unknown' };
  };

  async function routeOf(typed: string): Promise<IdentityProvider | undefined> {
    const name = typed.trim();
    if (!name) return undefined;
    const routed = await deps.directory.routingPolicies.routeForName(name);
    if (routed) return routed;
    const at = name.lastIndexOf('@');
    return at > 0 ? deps.directory.identityProviders.byHomeRealmDomain(name.slice(at + 1)) : undefined;
  }

  async function start(request: FastifyRequest, reply: FastifyReply, interaction: { uid: string; params: Record<string, unknown> }, provider: IdentityProvider, loginHint: string) {
    let config: UpstreamConfiguration;
    try {
      config = await deps.directory.identityProviders.upstream(provider.id);
    } catch {
      return refuse(request, reply, { reason: 'upstream_error', status: 502, message: `${provider.name} is not configured completely. Tell your administrator.`, detail: 'no client secret' }, { uid: interaction.uid, clientId: interaction.params.client_id, provider });
    }
    let authorization: Awaited<ReturnType<typeof startUpstreamSignIn>>;
    try {
      authorization = await startUpstreamSignIn(config, { issuer: deps.issuer, loginHint });
    } catch (error) {
      return refuse(request, reply, upstreamFailure(error, provider), { uid: interaction.uid, clientId: interaction.params.client_id, provider });
    }
    // One binding per browser, reused, so two tabs signing in at once don't undo each other.
    const existing = cookieValue(request, BINDING_COOKIE);
    const binding = existing && /^[\w-]{43}$/.test(existing) ? existing : randomBytes(32).toString('base64url');
    try {
      await flows.begin(authorization.state, {
        interactionUid: interaction.uid,
        providerId: provider.id,
        nonce: authorization.nonce,
        codeVerifier: authorization.codeVerifier,
        bindingHash: sha256(binding),
        loginHint,
      });
    } catch (error) {
      request.log.error({ err: error }, 'could not store a federated sign-in');
      return refuse(request, reply, { reason: 'upstream_error', status: 503, message: 'The sign-in could not start. Try again in a moment.', detail: 'flow not stored' }, { uid: interaction.uid, clientId: interaction.params.client_id, provider });
    }
    // SameSite=None (https only) so that a form_post callback, a cross-site POST, still carries it.
    const sameSite = httpsIssuer ? 'None; Secure' : 'Lax';
    return reply
      .status(303)
      .header('Set-Cookie', `${BINDING_COOKIE}=${binding}; Path=/; Max-Age=${FLOW_TTL_SECONDS}; HttpOnly; SameSite=${sameSite}`)
      .header('Cache-Control', 'no-store')
      .header('Location', authorization.url)
      .send();
  }

  async function callback(request: FastifyRequest, reply: FastifyReply, parameters: URLSearchParams) {
    const state = parameters.get('state') ?? '';
    const flow = await flows.consume(state);
    const binding = cookieValue(request, BINDING_COOKIE);
    const presented = Buffer.from(binding ? sha256(binding) : '');
    const expected = Buffer.from(flow?.bindingHash ?? '');
    const bound = presented.length > 0 && presented.length === expected.length && timingSafeEqual(presented, expected);
    if (!flow || !bound) {
      // Unknown, expired, already used, or begun in another browser: nothing of the flow is used.
      return refuse(request, reply, { reason: 'state_invalid', status: 400, message: 'This sign-in response is not one Gatehouse is waiting for (it was used already, has expired, or was started in another browser). Start again from the application.' }, {});
    }
    const interaction = await deps.provider().Interaction.find(flow.interactionUid);
    if (!interaction || (interaction.prompt.name !== 'login' && interaction.prompt.name !== 'select_account')) {
      return refuse(request, reply, { reason: 'state_invalid', status: 400, message: 'This sign-in has expired. Go back to the application and start signing in again.', detail: 'interaction gone' }, {});
    }
    const context = { uid: interaction.uid, clientId: interaction.params.client_id };
    let config: UpstreamConfiguration;
    try {
      config = await deps.directory.identityProviders.upstream(flow.providerId);
    } catch {
      return refuse(request, reply, { reason: 'provider_disabled', status: 400, message: 'The identity provider of this sign-in no longer exists. Start again.' }, context);
    }
    const { provider } = config;
    if (!provider.enabled) {
      return refuse(request, reply, { reason: 'provider_disabled', status: 400, message: `Sign-in through ${provider.name} is switched off. Ask your administrator.` }, { ...context, provider });
    }
    let identity: Awaited<ReturnType<typeof completeUpstreamSignIn>>;
    try {
      identity = await completeUpstreamSignIn(config, parameters, { state, nonce: flow.nonce, codeVerifier: flow.codeVerifier, issuer: deps.issuer });
    } catch (error) {
      return refuse(request, reply, upstreamFailure(error, provider), { ...context, provider });
    }

    const clientId = typeof interaction.params.client_id === 'string' ? interaction.params.client_id : '';
    const canUse = async (user: User): Promise<MatchResult | undefined> => {
      const refusal = stateRefusal(user);
      if (refusal) return { ok: false, reason: refusal, user, message: `The account ${user.username} cannot sign in right now. Ask your administrator.` };
      // Deny by default, before anything is linked: a person who may not use this app gets no link either.
      const decision = await deps.access().decide(user.id, clientId);
      if (!decision.allowed && (decision.reason === 'not_assigned' || decision.reason === 'not_administrator')) {
        return { ok: false, reason: 'not_assigned', user, message: `You are signed in at ${provider.name} as ${user.username}, but your administrator has not given you access to this application.` };
      }
      return undefined;
    };
    const match = await matchIdentity(deps.directory, provider, identity, actorOf(request), canUse);
    if (!match.ok) {
      return refuse(request, reply, { reason: match.reason, status: 403, message: match.message, user: match.user }, { ...context, provider });
    }
    await audit(request, match.user, await appTarget(clientId), 'success', { identity_provider: provider.name, via: match.via, ...(identity.amr ? { amr: identity.amr } : {}) });
    // What interactionFinished does, by uid: the interaction cookie is scoped to /interaction/<uid>
    // and never reaches this path; the browser's resume cookie still guards the resume endpoint.
    interaction.result = {
      login: { accountId: match.user.id, remember: true, ...(identity.amr ? { amr: identity.amr } : {}) },
      select_account: {},
      // provider.ts keeps it on the session, so ID tokens carry `idp`.
      [SESSION_IDP]: provider.name,
    };
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
    // The binding cookie stays until it expires: another tab's sign-in may still be under way.
    return reply
      .status(303)
      .header('Cache-Control', 'no-store')
      .header('Location', interaction.returnTo)
      .send();
  }

  const failSafe = (parameters: (request: FastifyRequest) => URLSearchParams) => async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      return await callback(request, reply, parameters(request));
    } catch (error) {
      // Never a 500 from a sign-in page: the database or the provider failed in a way not foreseen.
      request.log.error({ err: error }, 'federated sign-in failed');
      if (reply.sent) return reply;
      return refuse(request, reply, { reason: 'upstream_error', status: 502, message: 'The sign-in could not finish. Go back to the application and start again in a moment.', detail: 'internal' }, {});
    }
  };
  const toParameters = (source: unknown) => {
    const parameters = new URLSearchParams();
    if (source && typeof source === 'object') for (const [name, value] of Object.entries(source)) if (typeof value === 'string') parameters.set(name, value);
    return parameters;
  };
  app.get(FEDERATION_CALLBACK_PATH, failSafe((request) => toParameters(request.query)));
  app.post(FEDERATION_CALLBACK_PATH, failSafe((request) => toParameters(request.body)));

  return { routeOf, start };
}
