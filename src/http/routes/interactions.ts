import { createHmac, timingSafeEqual } from 'node:crypto';
import { sendPage } from './page-reply.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { Actor, AuditEventInput } from '../../directory/audit.ts';
import type { AppRow } from '../../directory/apps.ts';
import { CONSOLE_CLIENT_ID } from '../../directory/console-app.ts';
import type { Directory } from '../../directory/index.ts';
import { deriveKey, seal, unseal } from '../../oidc/secret-key.ts';
import { MFA_POSTPONED_RESULT, POLICY_REQUIREMENT } from '../../oidc/provider.ts';
import type { PolicyRequirement } from '../../authn/policies.ts';
import { mfaEnrolmentPage, recoveryCodesIssuedPage } from '../../oidc/views.ts';
import { DomainError } from '../../directory/errors.ts';
import { PASSKEY_SCRIPT_PATHS, errorPage, identifierPage, noAccessPage, passkeyPageCsp, recoveryCodeUsedPage, secondFactorPage, selectAccountPage, signInPage } from '../../oidc/views.ts';
import type { FactorStore } from '../../authn/factors.ts';
import { looksLikeRecoveryCode } from '../../authn/recovery-codes.ts';
import type { Federation } from './federation.ts';
import { createWindowLimiter } from '../plugins/rate-limit.ts';

/** The QR code library (about 60 modules), loaded when a QR code is first drawn, not at every start. */
const qrCode = async () => (await import('qrcode')).default;

const GENERIC_FAILURE = 'The username or password is incorrect, or the account cannot sign in right now.';

export interface InteractionDeps {
  provider: () => Provider;
  /** The provider's app look-up: registered apps and the admin console alike. */
  appRow: (clientId: string) => Promise<AppRow | undefined>;
  directory: Directory;
  secret: Buffer;
  issuer: string;
  /** Routing to upstream identity providers (routes/federation.ts). */
  federation: Federation;
  /** People's second factors (authn/factors.ts). */
  factors: FactorStore;
}

/**
 * A right password whose second factor is still to come, kept in the interaction's own result (an
 * oidc-provider row bound to the browser's interaction cookie), never in a form field.
 */
const PENDING_FACTOR = 'gatehouse_second_factor';
export interface PendingFactor {
  accountId: string;
  username: string;
  /** How the first step went (RFC 8176 values, e.g. ['pwd']); the second factor adds to them. */
  amr: string[];
  /** The first step's name in the audit log, e.g. 'password'. */
  method: string;
}

export const pendingFactorOf = (interaction: { result?: Record<string, unknown> | undefined }): PendingFactor | undefined => {
  const pending = interaction.result?.[PENDING_FACTOR] as Partial<PendingFactor> | undefined;
  if (typeof pending?.accountId !== 'string' || typeof pending.username !== 'string') return undefined;
  const amr = Array.isArray(pending.amr) ? pending.amr.filter((value): value is string => typeof value === 'string') : ['pwd'];
  return { accountId: pending.accountId, username: pending.username, amr, method: typeof pending.method === 'string' ? pending.method : 'password' };
};

/** The first step's amr with the second factor's, and `mfa` (RFC 8176: more than one factor). */
export const withSecondFactor = (first: readonly string[], second: string): string[] => [...new Set([...first.filter((value) => value !== 'mfa'), second, 'mfa'])];

const WRONG_CODE = 'That code is not right, or the account cannot sign in right now. Enter the code your app shows now.';

export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The server-rendered pages oidc-provider sends people to: sign-in and "no access". No JavaScript,
 * except the passkey scripts (routes/webauthn.ts), an enhancement the pages work without. Returns
 * what the passkey routes share with these pages: the form checks, the rate limits, the audit.
 */
export function registerInteractionRoutes(app: FastifyInstance, deps: InteractionDeps) {
  const csrfKey = deriveKey(deps.secret, 'csrf');
  const issuerOrigin = new URL(deps.issuer).origin;
  // Sign-in pages that offer a passkey load exactly these scripts (and their CSP allows them).
  const passkeyCsp = passkeyPageCsp(issuerOrigin);
  const passkeyOffer = (uid: string) => ({
    optionsUrl: `${issuerOrigin}/interaction/${uid}/webauthn/options`,
    action: `${issuerOrigin}/interaction/${uid}/webauthn`,
    scripts: PASSKEY_SCRIPT_PATHS.map((path) => `${issuerOrigin}${path}`),
  });
  // Failed sign-ins per 5 minutes: 20 per (address, typed username), so that one person or attacker
  // failing on one account doesn't shut out the others behind the same NAT address, and 100 per
  // address, a ceiling on guessing one password across many accounts. Only failures count, so an
  // office can sign in at nine o'clock; the account lockout (the lockout_threshold setting, default
  // 10 failures) guards each account across nodes.
  const signInLimits = {
    perAccount: createWindowLimiter({ limit: 20, windowMs: 5 * 60_000 }),
    perAddress: createWindowLimiter({ limit: 100, windowMs: 5 * 60_000 }),
  };

  // The token is bound to the interaction, whose uid only the browser holding the interaction cookie knows.
  const csrfToken = (uid: string) => createHmac('sha256', csrfKey).update(uid).digest('base64url');
  const csrfValid = (uid: string, presented: unknown) => {
    if (typeof presented !== 'string') return false;
    const expected = Buffer.from(csrfToken(uid));
    const actual = Buffer.from(presented);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  };

  async function details(request: FastifyRequest, reply: FastifyReply): Promise<Details | undefined> {
    try {
      return await deps.provider().interactionDetails(request.raw, reply.raw);
    } catch {
      sendPage(reply, 400, errorPage('This sign-in has expired', 'Go back to the application and start signing in again.'));
      return undefined;
    }
  }

  /** The app a sign-in is for: a registered one, or the admin console. */
  async function appRow(clientId: unknown) {
    return typeof clientId === 'string' ? deps.appRow(clientId) : undefined;
  }

  async function appView(clientId: unknown) {
    const row = await appRow(clientId);
    return row ? { label: row.label, icon: row.icon ? (JSON.parse(row.icon) as { mediaType: string; base64: string }) : null } : undefined;
  }

  /** A POST from another site is refused even before the CSRF token is checked. */
  function crossSite(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    return typeof origin === 'string' && origin !== 'null' && origin !== issuerOrigin;
  }

  /** Sign-in events: the person as actor, the app as target. Never the password or what was typed. */
  async function audit(request: FastifyRequest, user: { id: string; username: string } | undefined, event: AuditEventInput) {
    const actor: Actor = user
      ? { type: 'user', id: user.id, name: user.username, ip: request.ip, userAgent: request.headers['user-agent'] }
      : { type: 'anonymous', ip: request.ip, userAgent: request.headers['user-agent'] };
    await deps.directory.audit.record(actor, event).catch((error: unknown) => request.log.error({ err: error }, 'could not write an audit event'));
  }

  async function auditApp(clientId: unknown) {
    if (typeof clientId !== 'string') return undefined;
    const row = await appRow(clientId);
    return row ? { type: 'app', id: row.id, name: row.label } : { type: 'app', id: clientId };
  }

  /** What an access policy asks of this interaction (the access_policy prompt's details, from provider.ts). */
  const policyRequirementOf = (interaction: Details): PolicyRequirement | undefined =>
    interaction.prompt.name === 'access_policy' ? ((interaction.prompt.details as Record<string, unknown>)[POLICY_REQUIREMENT] as PolicyRequirement | undefined) : undefined;
  // The TOTP secret of an enrolment asked for by a policy, sealed in the interaction's result, so that
  // a wrong first code shows the same QR code again.
  const enrolmentKey = deriveKey(deps.secret, 'policy-enrolment');
  const POLICY_ENROLMENT = 'gatehouse_policy_enrolment';

  /**
   * The access_policy prompt: a denial (a page naming no internals; the app gets access_denied), an
   * enrolment (TOTP, postponable within the grace period), or a step-up, which becomes the pending
   * second factor of the session's account (no new password) and is answered like one: then nothing
   * is sent here, and the sign-in page's own pending-factor step shows.
   */
  async function renderPolicyPrompt(reply: FastifyReply, interaction: Details, brand: string, status: number, error: string | undefined, request: FastifyRequest | undefined) {
    const requirement = policyRequirementOf(interaction);
    const accountId = interaction.session?.accountId;
    const { uid, params } = interaction;
    const app = await appView(params.client_id);
    const user = accountId ? await deps.directory.users.byId(accountId) : undefined;
    if (!requirement || !user) return sendPage(reply, 400, errorPage('Sign-in could not continue', 'Go back to the application and start signing in again.'));
    if (requirement.kind === 'deny') {
      return sendPage(
        reply,
        403,
        noAccessPage({
          action: `${issuerOrigin}/interaction/${uid}/policy-abort`,
          csrf: csrfToken(uid),
          app: app ?? { label: 'this application' },
          username: user.username,
          brand,
          explanation: 'your organisation does not allow this sign-in. If you think you should have access, contact your administrator.',
        }),
      );
    }
    if (requirement.kind === 'step_up') {
      if (pendingFactorOf(interaction)) return undefined;
      if (!request) return sendPage(reply, 400, errorPage('Sign-in could not continue', 'Go back to the application and start signing in again.'));
      const amr = Array.isArray(interaction.session?.amr) ? (interaction.session.amr as string[]) : [];
      const stepUp: PendingFactor = { accountId: user.id, username: user.username, amr, method: 'step_up' };
      await deps.provider().interactionResult(request.raw, reply.raw, { [PENDING_FACTOR]: stepUp }, { mergeWithLastSubmission: false });
      interaction.result = { [PENDING_FACTOR]: stepUp };
      return undefined;
    }
    let sealed = interaction.result?.[POLICY_ENROLMENT];
    if (typeof sealed !== 'string') {
      if (!request) return sendPage(reply, 400, errorPage('Sign-in could not continue', 'Go back to the application and start signing in again.'));
      const settings = await deps.directory.settings.get();
      const enrolment = await deps.factors.beginTotp(user.id, { issuer: settings.organisation_name, account: user.username });
      sealed = seal(enrolmentKey, JSON.stringify(enrolment));
      await deps.provider().interactionResult(request.raw, reply.raw, { [POLICY_ENROLMENT]: sealed }, { mergeWithLastSubmission: false });
    }
    const { secret, uri } = JSON.parse(unseal(enrolmentKey, sealed as string)) as { secret: string; uri: string };
    const qrSvg = await (await qrCode()).toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return sendPage(
      reply,
      status,
      mfaEnrolmentPage({
        action: `${issuerOrigin}/interaction/${uid}/enrol-totp`,
        postponeAction: requirement.inGrace ? `${issuerOrigin}/interaction/${uid}/postpone-enrolment` : undefined,
        csrf: csrfToken(uid),
        username: user.username,
        qrSvg,
        secret,
        deadline: requirement.deadline,
        brand,
        ...(app ? { app } : {}),
        ...(error ? { error } : {}),
      }),
    );
  }

  async function render(reply: FastifyReply, interaction: Details, status = 200, error?: string, username?: string, request?: FastifyRequest) {
    const { uid, prompt, params } = interaction;
    const [app, settings] = await Promise.all([appView(params.client_id), deps.directory.settings.get()]);
    const brand = settings.organisation_name;
    if (prompt.name === 'access_policy') {
      // A page was sent (a reply is thenable, resolving to undefined: ask the reply), or the step-up goes on below.
      await renderPolicyPrompt(reply, interaction, brand, status, error, request);
      if (reply.sent) return reply;
    }
    if (prompt.name === 'app_access' && interaction.session?.accountId) {
      const user = await deps.directory.users.byId(interaction.session.accountId);
      const toConsole = params.client_id === CONSOLE_CLIENT_ID;
      const reason = toConsole ? 'not_administrator' : 'not_assigned';
      if (request) await audit(request, user, { action: 'user.sign_in', target: await auditApp(params.client_id), outcome: 'failure', details: { reason } });
      const explanation = toConsole
        ? 'only administrators can use the admin console. Your own apps are in the user portal; ask an administrator if you need an administrator role.'
        : 'your administrator has not given you access to this application. Ask them to add you to a group assigned to it.';
      return sendPage(
        reply,
        403,
        noAccessPage({
          action: `${issuerOrigin}/interaction/${uid}/abort`,
          csrf: csrfToken(uid),
          app: app ?? { label: 'this application' },
          username: user?.username ?? 'unknown',
          brand,
          explanation,
          // Every active person may use the portal: a refused administrator-to-be goes there, not back to the refusal.
          ...(toConsole ? { portalUrl: `${deps.issuer.replace(/\/$/, '')}/` } : {}),
        }),
      );
    }
    // A right password waiting for its second factor (on this interaction only).
    const pending = prompt.name === 'login' || prompt.name === 'select_account' || prompt.name === 'access_policy' ? pendingFactorOf(interaction) : undefined;
    if (pending && !username) {
      const [hasPasskey, totp] = await Promise.all([deps.factors.hasPasskey(pending.accountId), deps.factors.hasTotp(pending.accountId)]);
      return sendPage(
        reply,
        status,
        secondFactorPage({
          action: `${issuerOrigin}/interaction/${uid}/second-factor`,
          csrf: csrfToken(uid),
          username: pending.username,
          brand,
          totp,
          ...(hasPasskey ? { passkey: passkeyOffer(uid) } : {}),
          ...(app ? { app } : {}),
          ...(error ? { error } : {}),
        }),
        hasPasskey ? passkeyCsp : undefined,
      );
    }
    // The chooser, unless a name for another account was just typed (then its password step follows).
    if (prompt.name === 'select_account' && interaction.session?.accountId && !username) {
      const user = await deps.directory.users.byId(interaction.session.accountId);
      if (user) {
        return sendPage(
          reply,
          status,
          selectAccountPage({ continueAction: `${issuerOrigin}/interaction/${uid}/continue`, loginAction: `${issuerOrigin}/interaction/${uid}/identify`, csrf: csrfToken(uid), username: user.username, brand, ...(app ? { app } : {}) }),
        );
      }
    }
    if (prompt.name !== 'login' && prompt.name !== 'select_account') {
      return sendPage(reply, 400, errorPage('Sign-in could not continue', 'Go back to the application and start signing in again.'));
    }
    const hint = typeof params.login_hint === 'string' ? params.login_hint : undefined;
    // Identifier first; the password step once a name was typed (and not routed to a provider).
    if (!username) {
      return sendPage(
        reply,
        status,
        identifierPage({ action: `${issuerOrigin}/interaction/${uid}/identify`, csrf: csrfToken(uid), username: hint ?? '', brand, passkey: passkeyOffer(uid), ...(app ? { app } : {}), ...(error ? { error } : {}) }),
        passkeyCsp,
      );
    }
    return sendPage(
      reply,
      status,
      signInPage({ action: `${issuerOrigin}/interaction/${uid}/login`, changeUrl: `${issuerOrigin}/interaction/${uid}`, csrf: csrfToken(uid), username, brand, ...(app ? { app } : {}), ...(error ? { error } : {}) }),
    );
  }

  app.get<{ Params: { uid: string } }>('/interaction/:uid', async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    if (interaction.uid !== request.params.uid) return sendPage(reply, 400, errorPage('This sign-in has expired', 'Go back to the application and start signing in again.'));
    return render(reply, interaction, 200, undefined, undefined, request);
  });

  type SignInFormRequest = FastifyRequest<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>;

  /** The interaction a sign-in form was posted for, once its uid, origin and CSRF token check out; else the answer is sent. */
  async function postedSignInForm(request: SignInFormRequest, reply: FastifyReply): Promise<Details | undefined> {
    const interaction = await details(request, reply);
    if (!interaction) return undefined;
    if (interaction.uid !== request.params.uid || crossSite(request) || !csrfValid(interaction.uid, request.body?.csrf)) {
      sendPage(reply, 403, errorPage('Request refused', 'The form was not submitted from this sign-in page. Start signing in again from the application.'));
      return undefined;
    }
    // A policy's step-up is answered like a pending second factor (renderPolicyPrompt).
    const stepUp = interaction.prompt.name === 'access_policy' && pendingFactorOf(interaction) !== undefined;
    if (interaction.prompt.name !== 'login' && interaction.prompt.name !== 'select_account' && !stepUp) {
      await render(reply, interaction);
      return undefined;
    }
    return interaction;
  }

  /**
   * The identifier step: a person routed to an identity provider (routing policy, or a domain rule
   * for the typed email) goes there; anyone else, known or not, gets the password step.
   */
  app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>('/interaction/:uid/identify', async (request, reply) => {
    const interaction = await postedSignInForm(request, reply);
    if (!interaction) return reply;
    // A password posted with the name (a one-step form, a script) is handled as on …/login.
    const body = request.body ?? {};
    if (typeof body.password === 'string' && body.password) return passwordSignIn(request, reply, interaction);
    const username = typeof body.username === 'string' ? body.username.trim().slice(0, 254) : '';
    if (!username) return render(reply, interaction, 400, 'Enter your username or email.');
    const route = await deps.federation.routeOf(username);
    if (route) return deps.federation.start(request, reply, interaction, route, username);
    return render(reply, interaction, 200, undefined, username);
  });

  app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>('/interaction/:uid/login', async (request, reply) => {
    const interaction = await postedSignInForm(request, reply);
    if (!interaction) return reply;
    return passwordSignIn(request, reply, interaction);
  });

  /** Username and password, checked (the request's interaction, CSRF token and origin already were). */
  async function passwordSignIn(request: FastifyRequest<{ Body: Record<string, unknown> | undefined }>, reply: FastifyReply, interaction: Details) {
    const body = request.body ?? {};
    const username = typeof body.username === 'string' ? body.username.slice(0, 254) : '';
    const password = typeof body.password === 'string' ? body.password : '';
    // Each attempt takes its place in both limits before the password is checked (released again
    // on success), so guesses sent together can't all pass a limit that none has counted yet.
    const perAddress = signInLimits.perAddress.reserve(request.ip);
    const perAccount = perAddress && signInLimits.perAccount.reserve(`${request.ip} ${username.trim().toLowerCase()}`);
    if (!perAddress || !perAccount) {
      perAddress?.release();
      return render(reply, interaction, 429, 'Too many sign-in attempts. Wait a few minutes and try again.', username);
    }
    if (!username || !password) {
      perAddress.release();
      perAccount.release();
      return render(reply, interaction, 400, username ? 'Enter your password.' : 'Enter your username or email.', username || undefined);
    }
    // People routed to an identity provider have an externally managed password: never checked here.
    const route = await deps.federation.routeOf(username);
    if (route) {
      perAddress.release();
      perAccount.release();
      const known = await deps.directory.users.get(username).catch(() => undefined);
      await audit(request, known, { action: 'user.sign_in', target: await auditApp(interaction.params.client_id), outcome: 'failure', details: { reason: 'password_externally_managed' } });
      return deps.federation.start(request, reply, interaction, route, username);
    }
    let factorPending = false;
    const secondFactorPending = async (userId: string) => {
      factorPending = await deps.factors.hasSecondFactor(userId);
      return factorPending;
    };
    const result = await deps.directory.users.signIn(username, password, { secondFactorPending }).catch((error: unknown) => {
      perAddress.release();
      perAccount.release();
      throw error;
    });
    const appTarget = await auditApp(interaction.params.client_id);
    if (!result.ok) {
      // Audited against the account when it exists; what was typed for an unknown one is never
      // recorded, since people type passwords into the username field.
      const known = await deps.directory.users.get(username).catch(() => undefined);
      const reason = !known ? 'unknown_user' : result.reason === 'bad_credentials' ? (known.has_password ? 'bad_password' : 'no_password') : result.reason;
      await audit(request, known, { action: 'user.sign_in', target: appTarget, outcome: 'failure', details: { reason } });
      return render(reply, interaction, 200, GENERIC_FAILURE, username);
    }
    perAddress.release();
    perAccount.release();
    if (factorPending) {
      // The password was right; the sign-in is not done (nor audited as one) until the second factor is.
      const pendingFactor: PendingFactor = { accountId: result.user.id, username: result.user.username, amr: ['pwd'], method: 'password' };
      await deps.provider().interactionResult(request.raw, reply.raw, { [PENDING_FACTOR]: pendingFactor }, { mergeWithLastSubmission: false });
      interaction.result = { [PENDING_FACTOR]: pendingFactor };
      return render(reply, interaction);
    }
    // Not awaited first: on SQLite the event and the interaction's result then share one commit
    // (storage.write groups the writes of one turn; the event's is queued first); on PostgreSQL
    // they run side by side. A failed event is logged, as before, and never stops the sign-in.
    const audited = audit(request, result.user, { action: 'user.sign_in', target: appTarget, details: { method: 'password' } });
    const finished = deps.provider().interactionFinished(
      request.raw,
      reply.hijack().raw,
      // Signing in also answers prompt=select_account: the person chose this account.
      { login: { accountId: result.user.id, amr: ['pwd'], remember: true }, select_account: {} },
      { mergeWithLastSubmission: false },
    );
    // Both handled at once: a rejection of one must not go unhandled while the other is awaited.
    const [, outcome] = await Promise.all([audited, finished]);
    return outcome;
  }

  /**
   * The second step: a TOTP code or a recovery code for the account whose password was right on this
   * interaction. Wrong codes count toward the account's lockout and the sign-in rate limits.
   */
  app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>('/interaction/:uid/second-factor', async (request, reply) => {
    const interaction = await postedSignInForm(request, reply);
    if (!interaction) return reply;
    const pending = pendingFactorOf(interaction);
    if (!pending) return render(reply, interaction);
    const code = typeof request.body?.code === 'string' ? request.body.code.trim().slice(0, 64) : '';
    if (!code) return render(reply, interaction, 400, 'Enter the code from your authenticator app.');
    const perAddress = signInLimits.perAddress.reserve(request.ip);
    const perAccount = perAddress && signInLimits.perAccount.reserve(`${request.ip} ${pending.username.toLowerCase()}`);
    if (!perAddress || !perAccount) {
      perAddress?.release();
      return render(reply, interaction, 429, 'Too many attempts. Wait a few minutes and try again.');
    }
    const recovery = looksLikeRecoveryCode(code);
    let remaining: number | undefined;
    const verify = async () => {
      if (!recovery) return deps.factors.verifyTotp(pending.accountId, code);
      remaining = (await deps.factors.redeemRecoveryCode(pending.accountId, code))?.remaining;
      return remaining !== undefined;
    };
    const outcome = await deps.directory.users.secondFactorAttempt(pending.accountId, verify);
    const appTarget = await auditApp(interaction.params.client_id);
    const method = `${pending.method}+${recovery ? 'recovery_code' : 'totp'}`;
    if (!outcome.ok) {
      const known = await deps.directory.users.byId(pending.accountId);
      await audit(request, known, { action: 'user.sign_in', target: appTarget, outcome: 'failure', details: { reason: outcome.reason === 'locked' ? 'locked' : recovery ? 'bad_recovery_code' : 'bad_totp_code', method } });
      return render(reply, interaction, 200, WRONG_CODE);
    }
    perAddress.release();
    perAccount.release();
    await audit(request, outcome.user, { action: 'user.sign_in', target: appTarget, details: { method, ...(remaining === undefined ? {} : { recovery_codes_remaining: remaining }) } });
    // RFC 8176: a one-time password (an authenticator's code or a recovery code) after the first step.
    const result = { login: { accountId: outcome.user.id, amr: withSecondFactor(pending.amr, 'otp'), remember: true }, select_account: {} };
    if (remaining === undefined) return deps.provider().interactionFinished(request.raw, reply.hijack().raw, result, { mergeWithLastSubmission: false });
    // A recovery code: say how many are left before going on to the app.
    const continueUrl = await deps.provider().interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
    const settings = await deps.directory.settings.get();
    return sendPage(reply, 200, recoveryCodeUsedPage({ continueUrl, remaining, brand: settings.organisation_name }));
  });

  /** A button on one of our pages that ends the interaction with a fixed result. */
  function finishWith(path: string, prompt: string, result: Parameters<Provider['interactionFinished']>[2], merge: boolean) {
    app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>(`/interaction/:uid/${path}`, async (request, reply) => {
      const interaction = await details(request, reply);
      if (!interaction) return reply;
      if (interaction.uid !== request.params.uid || crossSite(request) || !csrfValid(interaction.uid, request.body?.csrf)) {
        return sendPage(reply, 403, errorPage('Request refused', 'The form was not submitted from this page. Start again from the application.'));
      }
      if (interaction.prompt.name !== prompt) return render(reply, interaction);
      return deps.provider().interactionFinished(request.raw, reply.hijack().raw, result, { mergeWithLastSubmission: merge });
    });
  }
  finishWith('abort', 'app_access', { error: 'access_denied', error_description: 'The user is not assigned to this application.' }, false);
  finishWith('policy-abort', 'access_policy', { error: 'access_denied', error_description: 'The sign-in is not allowed.' }, false);

  /** A policy's enrolment form (POST) once its uid, origin, CSRF token and requirement check out; else the answer is sent. */
  async function postedEnrolmentForm(request: SignInFormRequest, reply: FastifyReply) {
    const interaction = await details(request, reply);
    if (!interaction) return undefined;
    if (interaction.uid !== request.params.uid || crossSite(request) || !csrfValid(interaction.uid, request.body?.csrf)) {
      sendPage(reply, 403, errorPage('Request refused', 'The form was not submitted from this page. Start again from the application.'));
      return undefined;
    }
    const requirement = policyRequirementOf(interaction);
    const accountId = interaction.session?.accountId;
    const user = accountId ? await deps.directory.users.byId(accountId) : undefined;
    if (requirement?.kind !== 'enrol' || !user) {
      await render(reply, interaction, 200, undefined, undefined, request);
      return undefined;
    }
    return { interaction, requirement, user };
  }

  /** The first code from the authenticator app an access policy asked the person to set up. */
  app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>('/interaction/:uid/enrol-totp', async (request, reply) => {
    const posted = await postedEnrolmentForm(request, reply);
    if (!posted) return reply;
    const { interaction, user } = posted;
    const code = typeof request.body?.code === 'string' ? request.body.code.trim().slice(0, 16) : '';
    try {
      await deps.factors.confirmTotp(user.id, code);
    } catch (error) {
      if (error instanceof DomainError && error.status < 500) return render(reply, interaction, 200, 'That code is not right. Enter the 6-digit code your app shows now.', undefined, request);
      throw error;
    }
    const codes = (await deps.factors.summary(user.id)).recovery_codes ? undefined : await deps.factors.regenerateRecoveryCodes(user.id);
    await audit(request, user, { action: 'self.factor.totp_enrol', target: { type: 'user', id: user.id, name: user.username }, details: { during: 'sign_in', policy: posted.requirement.policy.name } });
    // Possession of the app, just proven, after the sign-in's first step: two factors (RFC 8176).
    const amr = Array.isArray(interaction.session?.amr) ? (interaction.session.amr as string[]) : [];
    const result = { login: { accountId: user.id, amr: withSecondFactor(amr, 'otp'), remember: true } };
    if (!codes) return deps.provider().interactionFinished(request.raw, reply.hijack().raw, result, { mergeWithLastSubmission: false });
    const continueUrl = await deps.provider().interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
    const settings = await deps.directory.settings.get();
    return sendPage(reply, 200, recoveryCodesIssuedPage({ continueUrl, codes, brand: settings.organisation_name }));
  });

  /** "Remind me later": only within the grace period; the session remembers it until the deadline. */
  app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>('/interaction/:uid/postpone-enrolment', async (request, reply) => {
    const posted = await postedEnrolmentForm(request, reply);
    if (!posted) return reply;
    if (!posted.requirement.inGrace) return render(reply, posted.interaction, 200, 'Two-step verification must be set up now.', undefined, request);
    await audit(request, posted.user, { action: 'user.access_policy', target: await auditApp(posted.interaction.params.client_id), details: { decision: 'enrolment_postponed', policy: posted.requirement.policy.name, enrolment_deadline: posted.requirement.deadline } });
    return deps.provider().interactionFinished(request.raw, reply.hijack().raw, { [MFA_POSTPONED_RESULT]: posted.requirement.policy.id }, { mergeWithLastSubmission: false });
  });
  finishWith('continue', 'select_account', { select_account: {} }, true);

  return { postedSignInForm, render, audit, auditApp, signInLimits };
}

export type SignInPages = ReturnType<typeof registerInteractionRoutes>;
