import type { FastifyInstance } from 'fastify';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FactorStore } from '../../../authn/factors.ts';
import { type WebAuthn, challengeKeys } from '../../../authn/webauthn.ts';
import { recordOutcome } from '../../../directory/audit.ts';
import { DomainError } from '../../../directory/errors.ts';
import type { Directory } from '../../../directory/index.ts';
import { type ApiAuthenticator, assertMayActOn, principalOf, selfOf } from '../../plugins/api-auth.ts';
import { errorResponses, idParams, ref } from './schemas.ts';

/** The QR code library (about 60 modules), loaded when a QR code is first drawn, not at every start. */
const qrCode = async () => (await import('qrcode')).default;

const dateOrNull = { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] } as const;

/** A security key or passkey: its name and history, never its key material. */
export const passkeySchema = {
  $id: 'Passkey',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'created_at', 'last_used_at', 'backed_up', 'device_type'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string', description: 'The name its owner gave it.' },
    created_at: { type: 'string', format: 'date-time' },
    last_used_at: dateOrNull,
    backed_up: { type: 'boolean', description: 'Whether the authenticator says the credential is backed up (synced to a cloud keychain).' },
    device_type: { type: 'string', enum: ['single_device', 'multi_device'], description: 'single_device: bound to one authenticator (a security key); multi_device: a synced passkey.' },
  },
} as const;

/** A person's second factors as anyone may see them: what is set up and when, never a secret. */
export const factorsSchema = {
  $id: 'Factors',
  type: 'object',
  additionalProperties: false,
  required: ['totp', 'recovery_codes', 'passkeys'],
  properties: {
    passkeys: { type: 'array', items: ref('Passkey'), description: 'Security keys and passkeys, oldest first.' },
    totp: {
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['confirmed_at', 'last_used_at'],
          properties: { confirmed_at: { type: 'string', format: 'date-time' }, last_used_at: dateOrNull },
        },
        { type: 'null' },
      ],
      description: 'The authenticator app (TOTP), once set up; null when there is none.',
    },
    recovery_codes: {
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['remaining', 'created_at'],
          properties: { remaining: { type: 'integer', minimum: 0 }, created_at: { type: 'string', format: 'date-time' } },
        },
        { type: 'null' },
      ],
      description: 'How many of the one-time recovery codes are left; null when none were ever made.',
    },
  },
} as const;

export const totpEnrolmentSchema = {
  $id: 'TotpEnrolment',
  type: 'object',
  additionalProperties: false,
  required: ['secret', 'uri', 'qr_svg'],
  properties: {
    secret: { type: 'string', description: 'The shared secret in base32, for typing into the app by hand. Shown this once.' },
    uri: { type: 'string', description: 'The otpauth:// URI the QR code holds.' },
    qr_svg: { type: 'string', description: 'The QR code as an SVG document.' },
  },
} as const;

export const recoveryCodesSchema = {
  $id: 'RecoveryCodes',
  type: 'object',
  additionalProperties: false,
  required: ['recovery_codes'],
  properties: { recovery_codes: { type: 'array', items: { type: 'string' }, description: 'Ten one-time codes, shown this once.' } },
} as const;

export const FACTOR_SCHEMAS = [passkeySchema, factorsSchema, totpEnrolmentSchema, recoveryCodesSchema] as const;

const codeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['code'],
  properties: { code: { type: 'string', minLength: 1, maxLength: 64, description: 'A code from the authenticator app (or, to remove it, a recovery code).' } },
} as const;

/**
 * Second factors: a person sets up and removes their authenticator app and recovery codes in the
 * portal; administrators see what each person has and can reset it, never read a secret.
 */
/**
 * Removing a person's last factor while an access policy requires MFA of them is refused with the
 * reason (409 factor.required_by_policy): they would be asked to enrol again at the next sign-in.
 */
async function refuseRemovingLastFactor(directory: Directory, userId: string): Promise<void> {
  const policies = await directory.accessPolicies.requiringMfaOf(userId);
  if (policies.length === 0) return;
  const names = policies.map((policy) => `"${policy.name}"`).join(', ');
  throw new DomainError('factor.required_by_policy', 409, `Your organisation requires two-step verification (access policy ${names}): set up another factor before removing your last one.`);
}

export function registerFactorRoutes(app: FastifyInstance, directory: Directory, factors: FactorStore, auth: ApiAuthenticator, webauthn: WebAuthn): void {
  const tags = ['Self-service'];
  const security = [{ bearer: [] }];

  app.get('/me/factors', { preValidation: auth.requireSelf(), schema: { tags, security, summary: 'My second factors', response: { 200: ref('Factors'), ...errorResponses } } }, async (request) =>
    factors.summary(selfOf(request).user.id),
  );

  app.post(
    '/me/factors/totp',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Start setting up an authenticator app',
        description: 'A new secret and its QR code. It becomes a factor only when confirmed with a first code (POST /api/me/factors/totp/confirm); starting again replaces an unconfirmed one.',
        response: { 201: ref('TotpEnrolment'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user } = selfOf(request);
      const settings = await directory.settings.get();
      const enrolment = await factors.beginTotp(user.id, { issuer: settings.organisation_name, account: user.username });
      const qr_svg = await (await qrCode()).toString(enrolment.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return reply.status(201).send({ ...enrolment, qr_svg });
    },
  );

  app.post<{ Body: { code: string } }>(
    '/me/factors/totp/confirm',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Finish setting up an authenticator app',
        description: 'Confirms the set-up with the code the app shows now. The first factor of a person who has no recovery codes comes with ten, shown this once.',
        body: codeBody,
        response: { 200: { type: 'object', additionalProperties: false, required: ['recovery_codes'], properties: { recovery_codes: { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }] } } }, ...errorResponses },
      },
    },
    async (request) => {
      const { user, actor } = selfOf(request);
      const target = { type: 'user', id: user.id, name: user.username };
      return recordOutcome(
        directory.audit,
        actor,
        'self.factor.totp_enrol',
        async () => {
          await factors.confirmTotp(user.id, request.body.code);
          const { recovery_codes } = await factors.summary(user.id);
          return { recovery_codes: recovery_codes ? null : await factors.regenerateRecoveryCodes(user.id) };
        },
        (result) => ({ target, details: { recovery_codes_created: result.recovery_codes !== null } }),
        target,
      );
    },
  );

  app.delete<{ Body: { code: string } }>(
    '/me/factors/totp',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Remove my authenticator app',
        description: 'Needs a code from the app, or a recovery code for someone who lost it: a sign-in left open is not enough to take a factor away.',
        body: codeBody,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user, actor } = selfOf(request);
      const target = { type: 'user', id: user.id, name: user.username };
      await recordOutcome(
        directory.audit,
        actor,
        'self.factor.totp_remove',
        async () => {
          if (!(await factors.hasSecondFactor(user.id))) throw new DomainError('factor.not_found', 404, 'No authenticator app is set up.');
          if (!(await factors.hasPasskey(user.id))) await refuseRemovingLastFactor(directory, user.id);
          const outcome = await directory.users.secondFactorAttempt(user.id, async () => (await factors.verifyTotp(user.id, request.body.code)) || (await factors.redeemRecoveryCode(user.id, request.body.code)) !== undefined);
          if (!outcome.ok) throw new DomainError('factor.code_wrong', 400, 'That code is not right. Enter the code your app shows now, or one of your recovery codes.');
          await factors.removeTotp(user.id);
        },
        () => ({ target }),
        target,
      );
      return reply.status(204).send();
    },
  );

  app.post(
    '/me/recovery-codes',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Make new recovery codes',
        description: 'Ten new one-time codes, shown this once; the earlier ones stop working.',
        response: { 201: ref('RecoveryCodes'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user, actor } = selfOf(request);
      const target = { type: 'user', id: user.id, name: user.username };
      const codes = await recordOutcome(directory.audit, actor, 'self.recovery_codes.regenerate', () => factors.regenerateRecoveryCodes(user.id), () => ({ target }), target);
      return reply.status(201).send({ recovery_codes: codes });
    },
  );

  registerPasskeyRoutes(app, directory, factors, auth, webauthn);

  const adminTags = ['Users'];
  app.get<{ Params: { id: string } }>(
    '/users/:id/factors',
    {
      preValidation: auth.require('read'),
      schema: { tags: adminTags, summary: 'A user’s second factors', description: 'What is set up and when; no secret, ever.', params: idParams, response: { 200: ref('Factors'), ...errorResponses } },
    },
    async (request) => factors.summary((await directory.users.get(request.params.id)).id),
  );

  app.delete<{ Params: { id: string } }>(
    '/users/:id/factors',
    {
      preValidation: auth.require('helpdesk'),
      schema: {
        tags: adminTags,
        summary: 'Reset a user’s second factors',
        description: 'Removes their authenticator app, security keys, passkeys and recovery codes, for someone who lost them; they sign in with the password alone until they set up new ones.',
        params: idParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await assertMayActOn(directory, principal.role, request.params.id);
      const user = await directory.users.get(request.params.id);
      const target = { type: 'user', id: user.id, name: user.username };
      await recordOutcome(directory.audit, principal.actor, 'user.factors_reset', () => factors.resetAll(user.id), () => ({ target }), target);
      return reply.status(204).send();
    },
  );
}

const webauthnJson = { type: 'object', additionalProperties: true, description: 'What @simplewebauthn/browser returned (JSON), unchanged.' } as const;
const passkeyName = { type: 'string', minLength: 1, maxLength: 64, description: 'A name for the key, e.g. "YubiKey" or "Work laptop".' } as const;

/**
 * Security keys and passkeys. Registration is a two-step ceremony: options (whose challenge the
 * server keeps, for this person only, used once, for five minutes), then the browser's answer.
 * Removal asks for the same proof as removing the authenticator app: a code from it, a recovery
 * code, or an assertion of one of the person's security keys or passkeys (options from
 * POST /api/me/passkeys/verification-options); an open session alone is not enough.
 */
function registerPasskeyRoutes(app: FastifyInstance, directory: Directory, factors: FactorStore, auth: ApiAuthenticator, webauthn: WebAuthn): void {
  const tags = ['Self-service'];
  const security = [{ bearer: [] }];
  const targetOf = (user: { id: string; username: string }) => ({ type: 'user', id: user.id, name: user.username });

  app.post(
    '/me/passkeys/options',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Start adding a security key or passkey',
        description: 'WebAuthn registration options for navigator.credentials.create (through @simplewebauthn/browser startRegistration): a discoverable credential and user verification preferred, the keys already registered excluded. Answer within five minutes with POST /api/me/passkeys.',
        response: { 200: webauthnJson, ...errorResponses },
      },
    },
    async (request) => {
      const { user } = selfOf(request);
      const settings = await directory.settings.get();
      return webauthn.registrationOptions(user, settings.organisation_name);
    },
  );

  app.post<{ Body: { name: string; response: RegistrationResponseJSON } }>(
    '/me/passkeys',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Add a security key or passkey',
        description: 'Verifies the browser’s answer to the latest options (challenge, origin and RP ID must be this issuer’s) and stores the key. The first factor of a person who has no recovery codes comes with ten, shown this once.',
        body: { type: 'object', additionalProperties: false, required: ['name', 'response'], properties: { name: passkeyName, response: webauthnJson } },
        response: {
          201: {
            type: 'object',
            additionalProperties: false,
            required: ['passkey', 'recovery_codes'],
            properties: { passkey: ref('Passkey'), recovery_codes: { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }] } },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { user, actor } = selfOf(request);
      const target = targetOf(user);
      const result = await recordOutcome(
        directory.audit,
        actor,
        'self.factor.passkey_register',
        async () => {
          const passkey = await webauthn.register(user.id, request.body.name, request.body.response);
          const { recovery_codes } = await factors.summary(user.id);
          return { passkey, recovery_codes: recovery_codes ? null : await factors.regenerateRecoveryCodes(user.id) };
        },
        (done) => ({ target, details: { passkey: done.passkey.name, device_type: done.passkey.device_type, recovery_codes_created: done.recovery_codes !== null } }),
        target,
      );
      return reply.status(201).send(result);
    },
  );

  app.patch<{ Params: { id: string }; Body: { name: string } }>(
    '/me/passkeys/:id',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Rename a security key or passkey',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: passkeyName } },
        response: { 200: ref('Passkey'), ...errorResponses },
      },
    },
    async (request) => {
      const { user, actor } = selfOf(request);
      const target = targetOf(user);
      return recordOutcome(directory.audit, actor, 'self.factor.passkey_rename', () => webauthn.rename(user.id, request.params.id, request.body.name), (passkey) => ({ target, details: { passkey: passkey.name } }), target);
    },
  );

  app.post(
    '/me/passkeys/verification-options',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Prove a security key or passkey',
        description: 'WebAuthn assertion options limited to my own keys, for navigator.credentials.get (startAuthentication); the answer confirms DELETE /api/me/passkeys/{id}. Used once, valid five minutes.',
        response: { 200: webauthnJson, ...errorResponses },
      },
    },
    async (request) => {
      const { user } = selfOf(request);
      if (!(await webauthn.has(user.id))) throw new DomainError('passkey.not_found', 404, 'No security key or passkey is registered.');
      return webauthn.authenticationOptions(challengeKeys.reauthentication(user.id), { userId: user.id, userVerification: 'preferred' });
    },
  );

  app.delete<{ Params: { id: string }; Body: { code?: string; response?: AuthenticationResponseJSON } }>(
    '/me/passkeys/:id',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Remove a security key or passkey',
        description:
          'Needs proof of a factor, as removing the authenticator app does: `code` (from the authenticator app, or a recovery code) or `response` (an assertion answering POST /api/me/passkeys/verification-options, from any of my keys, this one included). Wrong proofs count toward the account lockout.',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { code: { type: 'string', minLength: 1, maxLength: 64 }, response: webauthnJson },
        },
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user, actor } = selfOf(request);
      const target = targetOf(user);
      const { code, response } = request.body ?? {};
      await recordOutcome(
        directory.audit,
        actor,
        'self.factor.passkey_remove',
        async () => {
          const passkey = (await webauthn.list(user.id)).find((key) => key.id === request.params.id);
          if (!passkey) throw new DomainError('passkey.not_found', 404, 'No such security key or passkey.');
          if (!(await factors.hasTotp(user.id)) && (await webauthn.list(user.id)).length === 1) await refuseRemovingLastFactor(directory, user.id);
          if (!code && !response) throw new DomainError('factor.proof_required', 400, 'Confirm with a code from your authenticator app, a recovery code, or one of your security keys or passkeys.');
          const outcome = await directory.users.secondFactorAttempt(user.id, async () => {
            if (response) return (await webauthn.authenticate(challengeKeys.reauthentication(user.id), response, { userId: user.id, requireUserVerification: false })).ok;
            return (await factors.verifyTotp(user.id, code!)) || (await factors.redeemRecoveryCode(user.id, code!)) !== undefined;
          });
          if (!outcome.ok) throw new DomainError('factor.proof_wrong', 400, 'That confirmation is not right. Use a code your app shows now, a recovery code, or one of your security keys or passkeys.');
          await webauthn.remove(user.id, passkey.id);
          return passkey;
        },
        (passkey) => ({ target, details: { passkey: passkey.name } }),
        target,
      );
      return reply.status(204).send();
    },
  );
}
