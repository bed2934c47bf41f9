import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import type { FactorStore } from '../../../authn/factors.ts';
import { recordOutcome } from '../../../directory/audit.ts';
import { DomainError } from '../../../directory/errors.ts';
import type { Directory } from '../../../directory/index.ts';
import { type ApiAuthenticator, assertMayActOn, principalOf, selfOf } from '../../plugins/api-auth.ts';
import { errorResponses, idParams, ref } from './schemas.ts';

const dateOrNull = { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] } as const;

/** A person's second factors as anyone may see them: what is set up and when, never a secret. */
export const factorsSchema = {
  $id: 'Factors',
  type: 'object',
  additionalProperties: false,
  required: ['totp', 'recovery_codes'],
  properties: {
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

export const FACTOR_SCHEMAS = [factorsSchema, totpEnrolmentSchema, recoveryCodesSchema] as const;

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
export function registerFactorRoutes(app: FastifyInstance, directory: Directory, factors: FactorStore, auth: ApiAuthenticator): void {
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
      const qr_svg = await QRCode.toString(enrolment.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
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
        description: 'Removes their authenticator app and recovery codes, for someone who lost both; they sign in with the password alone until they set up new ones.',
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
