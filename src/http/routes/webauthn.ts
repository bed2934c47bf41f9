import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { type WebAuthn, challengeKeys } from '../../authn/webauthn.ts';
import type { Directory } from '../../directory/index.ts';
import { PASSKEY_SCRIPT_PATHS } from '../../oidc/views.ts';
import { type SignInPages, pendingFactorOf, withSecondFactor } from './interactions.ts';

export interface WebAuthnRouteDeps {
  provider: () => Provider;
  directory: Directory;
  webauthn: WebAuthn;
  /** What the sign-in pages share (routes/interactions.ts): form checks, rate limits, audit. */
  pages: SignInPages;
}

const KEY_FAILED = 'That security key or passkey could not be verified, or the account cannot sign in right now. Try again, or continue another way.';
const PASSKEY_FAILED = 'That passkey could not be used to sign in. Try again, or sign in with your username.';

// Read once at start: @simplewebauthn/browser's browser bundle and the page's glue, served from
// Gatehouse's own origin (the pages' CSP allows exactly these two files). The package exports no
// path to its bundle, so it is found next to the entry point.
const require = createRequire(import.meta.url);
const [BUNDLE_PATH, GLUE_PATH] = PASSKEY_SCRIPT_PATHS;
const SCRIPTS = {
  [BUNDLE_PATH]: readFileSync(join(dirname(require.resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js'), 'utf8'),
  [GLUE_PATH]: readFileSync(new URL('../static/webauthn-sign-in.js', import.meta.url), 'utf8'),
};

/** The form field `response`: the browser's answer as JSON text, or undefined when it is not one. */
function assertionOf(value: unknown): AuthenticationResponseJSON | undefined {
  if (typeof value !== 'string' || value.length > 12_000) return undefined;
  try {
    const parsed = JSON.parse(value) as AuthenticationResponseJSON;
    return parsed && typeof parsed === 'object' && typeof parsed.id === 'string' && typeof parsed.response === 'object' && parsed.response !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Security keys and passkeys on the sign-in pages: after a right password (a second factor, for the
 * person that password was for), or alone (a passwordless first factor with a discoverable
 * credential and user verification required). The challenge lives server-side, bound to this
 * interaction and, for a second factor, to the pending person; it is used once.
 *
 * amr (RFC 8176): 'hwk' for a device-bound key, 'swk' for a synced passkey. Passwordless adds 'user'
 * (presence was tested) and 'mfa': user verification is required there, so the key (possession)
 * was unlocked by a PIN or biometric (knowledge or inherence), two factors in one gesture, as
 * NIST SP 800-63B counts a multi-factor cryptographic authenticator.
 */
export function registerWebAuthnRoutes(app: FastifyInstance, deps: WebAuthnRouteDeps): void {
  const { pages } = deps;

  for (const [path, body] of Object.entries(SCRIPTS)) {
    app.get(path, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').header('X-Content-Type-Options', 'nosniff').send(body),
    );
  }

  type FormRequest = FastifyRequest<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>;

  /** Options for this interaction's ceremony: for the pending person's keys, or for any passkey. */
  app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>('/interaction/:uid/webauthn/options', async (request: FormRequest, reply: FastifyReply) => {
    const interaction = await pages.postedSignInForm(request, reply);
    if (!interaction) return reply;
    const pending = pendingFactorOf(interaction);
    const key = challengeKeys.signIn(interaction.uid);
    const options = pending
      ? await deps.webauthn.authenticationOptions(key, { userId: pending.accountId, userVerification: 'preferred' })
      : await deps.webauthn.authenticationOptions(key, { userVerification: 'required' });
    return reply.header('Cache-Control', 'no-store').send(options);
  });

  app.post<{ Params: { uid: string }; Body: Record<string, unknown> | undefined }>('/interaction/:uid/webauthn', async (request: FormRequest, reply: FastifyReply) => {
    const interaction = await pages.postedSignInForm(request, reply);
    if (!interaction) return reply;
    const pending = pendingFactorOf(interaction);
    const response = assertionOf(request.body?.response);
    if (!response) return pages.render(reply, interaction, 400, pending ? KEY_FAILED : PASSKEY_FAILED);
    const key = challengeKeys.signIn(interaction.uid);
    const appTarget = await pages.auditApp(interaction.params.client_id);

    // Under the same rate limits as passwords and codes: only failures keep their place.
    const perAddress = pages.signInLimits.perAddress.reserve(request.ip);
    const perAccount = perAddress && (pending ? pages.signInLimits.perAccount.reserve(`${request.ip} ${pending.username.toLowerCase()}`) : { release() {} });
    if (!perAddress || !perAccount) {
      perAddress?.release();
      return pages.render(reply, interaction, 429, 'Too many attempts. Wait a few minutes and try again.');
    }

    if (pending) {
      // A second factor: the pending person's key, and a wrong one counts toward their lockout.
      let verified: Awaited<ReturnType<WebAuthn['authenticate']>> | undefined;
      const outcome = await deps.directory.users.secondFactorAttempt(pending.accountId, async () => {
        verified = await deps.webauthn.authenticate(key, response, { userId: pending.accountId, requireUserVerification: false });
        return verified.ok;
      });
      const method = `${pending.method}+webauthn`;
      if (!outcome.ok || !verified?.ok) {
        const known = await deps.directory.users.byId(pending.accountId);
        const reason = !outcome.ok && outcome.reason === 'locked' ? 'locked' : `webauthn_${verified && !verified.ok ? verified.reason : 'invalid'}`;
        await pages.audit(request, known, { action: 'user.sign_in', target: appTarget, outcome: 'failure', details: { reason, method } });
        return pages.render(reply, interaction, 200, KEY_FAILED);
      }
      perAddress.release();
      perAccount.release();
      await pages.audit(request, outcome.user, { action: 'user.sign_in', target: appTarget, details: { method, key: verified.amr } });
      return deps.provider().interactionFinished(
        request.raw,
        reply.hijack().raw,
        { login: { accountId: outcome.user.id, amr: withSecondFactor(pending.amr, verified.amr), remember: true }, select_account: {} },
        { mergeWithLastSubmission: false },
      );
    }

    // Passwordless: the assertion says who. A failed one is not held against the account whose
    // credential id it names (anyone can send junk with a public id); the address limit applies.
    const verified = await deps.webauthn.authenticate(key, response, { requireUserVerification: true });
    if (!verified.ok) {
      const known = verified.userId ? await deps.directory.users.byId(verified.userId) : undefined;
      await pages.audit(request, known, { action: 'user.sign_in', target: appTarget, outcome: 'failure', details: { reason: `webauthn_${verified.reason}`, method: 'passkey' } });
      return pages.render(reply, interaction, 200, PASSKEY_FAILED);
    }
    // The account must be able to sign in as after a password: not locked (this also resets the
    // failure count, as a right password does), not suspended, not staged. Same message for all.
    const outcome = await deps.directory.users.secondFactorAttempt(verified.userId, async () => true);
    const state = outcome.ok ? outcome.user.state : undefined;
    if (!outcome.ok || state === 'SUSPENDED' || state === 'STAGED') {
      const known = outcome.ok ? outcome.user : await deps.directory.users.byId(verified.userId);
      await pages.audit(request, known, { action: 'user.sign_in', target: appTarget, outcome: 'failure', details: { reason: outcome.ok ? String(state).toLowerCase() : 'locked', method: 'passkey' } });
      return pages.render(reply, interaction, 200, PASSKEY_FAILED);
    }
    perAddress.release();
    perAccount.release();
    await pages.audit(request, outcome.user, { action: 'user.sign_in', target: appTarget, details: { method: 'passkey', key: verified.amr } });
    const amr = [verified.amr, 'user', ...(verified.userVerified ? ['mfa'] : [])];
    return deps.provider().interactionFinished(
      request.raw,
      reply.hijack().raw,
      { login: { accountId: outcome.user.id, amr, remember: true }, select_account: {} },
      { mergeWithLastSubmission: false },
    );
  });
}
