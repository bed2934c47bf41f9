import type { FastifyInstance } from 'fastify';
import { recordOutcome } from '../../../directory/audit.ts';
import type { Directory } from '../../../directory/index.ts';
import type { SessionService } from '../../../oidc/sessions.ts';
import { type ApiAuthenticator, selfOf } from '../../plugins/api-auth.ts';
import { errorResponses, ref } from './schemas.ts';

const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableString = { anyOf: [{ type: 'string' }, { type: 'null' }] } as const;

export const selfSessionSchema = {
  $id: 'SelfSession',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'current', 'signed_in_at', 'last_seen_at', 'ip', 'user_agent', 'browser', 'os', 'device', 'apps'],
  properties: {
    id: { type: 'string', description: 'The session’s id (not its cookie): DELETE /api/me/sessions/{id} ends it.' },
    current: { type: 'boolean', description: 'The session the calling token was issued in.' },
    signed_in_at: dateTime,
    last_seen_at: { ...dateTime, description: 'When it was last used (signing in to an app, the portal), to within a minute.' },
    ip: { ...nullableString, description: 'The address it was last used from.' },
    user_agent: nullableString,
    browser: { ...nullableString, description: 'e.g. Chrome' },
    os: { ...nullableString, description: 'e.g. Linux' },
    device: { type: 'string', description: 'A short name for people, e.g. "Chrome on Linux".' },
    apps: {
      type: 'array',
      description: 'The registered apps signed in to during the session.',
      items: { type: 'object', additionalProperties: false, required: ['id', 'label'], properties: { id: { type: 'string' }, label: { type: 'string' } } },
    },
  },
} as const;

export const selfAppGrantSchema = {
  $id: 'SelfAppGrant',
  type: 'object',
  additionalProperties: false,
  required: ['app_id', 'client_id', 'label', 'has_icon', 'first_signed_in_at', 'last_used_at', 'has_refresh_tokens'],
  properties: {
    app_id: { type: 'string', description: 'DELETE /api/me/app-grants/{app_id} revokes it.' },
    client_id: { type: 'string' },
    label: { type: 'string' },
    has_icon: { type: 'boolean' },
    first_signed_in_at: dateTime,
    last_used_at: { ...dateTime, description: 'When the app last had a token issued for the person.' },
    has_refresh_tokens: { type: 'boolean', description: 'The app can keep the person signed in (offline access) until revoked.' },
  },
} as const;

export const SELF_SESSION_SCHEMAS = [selfSessionSchema, selfAppGrantSchema] as const;

const listOf = (id: string, item: string) => ({ $id: id, type: 'object', additionalProperties: false, required: ['data'], properties: { data: { type: 'array', items: ref(item) } } }) as const;
const sessionParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  // oidc-provider's session uids (nanoid).
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;
const appParams = { type: 'object', required: ['app_id'], additionalProperties: false, properties: { app_id: { type: 'string', minLength: 1, maxLength: 200 } } } as const;

/**
 * A self-service call (any route under /api/me) is a use of the session its token was issued in:
 * record its last seen, address and browser (throttled to once a minute), after the answer is sent.
 */
export function recordSessionUse(app: FastifyInstance, sessions: SessionService): void {
  app.addHook('onResponse', async (request) => {
    const self = request.self;
    if (!self?.sessionUid) return;
    void sessions
      .touch({ sessionUid: self.sessionUid, accountId: self.user.id, ip: request.ip, userAgent: request.headers['user-agent'] })
      .catch((error: unknown) => request.log.warn({ err: error }, 'could not record session activity'));
  });
}

/**
 * The person's Gatehouse sessions and app grants (the user portal's "Sessions and apps"): list them,
 * sign one session out or all of them, revoke an app. Self-service only: never with an API key.
 */
export function registerSelfSessionRoutes(app: FastifyInstance, directory: Directory, sessions: SessionService, auth: ApiAuthenticator): void {
  const tags = ['Self-service'];
  const security = [{ bearer: [] }];

  app.get(
    '/me/sessions',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Your Gatehouse sessions',
        description: 'Every browser you are signed in to Gatehouse with, newest first, with the apps you signed in to from it. Needs a user portal sign-in.',
        response: { 200: listOf('SelfSessionList', 'SelfSession'), ...errorResponses },
      },
    },
    async (request) => {
      const self = selfOf(request);
      return { data: await sessions.list(self.user.id, self.sessionUid) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/me/sessions/:id',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Sign a session out',
        description:
          'Ends that Gatehouse session (its browser must sign in again) and the sign-ins to apps made in it, as signing out from an app does; an app with offline access keeps its refresh token (revoke the app for that). 404 session.not_found for an id that is not one of your sessions.',
        params: sessionParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user, actor } = selfOf(request);
      await recordOutcome(
        directory.audit,
        actor,
        'self.session.end',
        () => sessions.end(user.id, request.params.id),
        (ended) => ({ target: { type: 'session', id: ended.id, name: ended.device }, details: { apps_signed_out: ended.appsSignedOut.map((a) => a.label) } }),
        { type: 'session', id: request.params.id },
      );
      return reply.status(204).send();
    },
  );

  app.delete(
    '/me/sessions',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Sign out everywhere',
        description: 'Ends every Gatehouse session of yours, this one included, and revokes every app’s grant (refresh tokens too).',
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user, actor } = selfOf(request);
      await recordOutcome(
        directory.audit,
        actor,
        'self.session.end_all',
        () => sessions.endAll(user.id),
        (ended) => ({ details: { sessions: ended.sessions, grants: ended.grants } }),
        { type: 'user', id: user.id, name: user.username },
      );
      return reply.status(204).send();
    },
  );

  app.get(
    '/me/app-grants',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Apps you have signed in to',
        description: 'The registered apps that hold a live grant of yours, most recently used first (Gatehouse’s own console and portal left out).',
        response: { 200: listOf('SelfAppGrantList', 'SelfAppGrant'), ...errorResponses },
      },
    },
    async (request) => ({ data: await sessions.appGrants(selfOf(request).user.id) }),
  );

  app.delete<{ Params: { app_id: string } }>(
    '/me/app-grants/:app_id',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        security,
        summary: 'Revoke an app',
        description:
          'Revokes every grant you gave the app, with its access and refresh tokens: it must send you to sign in again. 404 app_grant.not_found when you have no live grant with that app.',
        params: appParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { user, actor } = selfOf(request);
      await recordOutcome(
        directory.audit,
        actor,
        'self.app_grant.revoke',
        () => sessions.revokeAppGrants(user.id, request.params.app_id),
        (revoked) => ({ target: { type: 'app', id: revoked.app.id, name: revoked.app.label }, details: { client_id: revoked.clientId, grants: revoked.grants } }),
        { type: 'app', id: request.params.app_id },
      );
      return reply.status(204).send();
    },
  );
}
