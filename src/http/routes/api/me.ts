import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SessionService } from '../../../oidc/sessions.ts';
import { DomainError } from '../../../directory/errors.ts';
import type { Directory } from '../../../directory/index.ts';
import { changeOwnPassword, portalAppIcon, portalAppsFor } from '../../../directory/portal.ts';
import type { User } from '../../../directory/users.ts';
import { type ApiAuthenticator, selfOf } from '../../plugins/api-auth.ts';
import { createWindowLimiter } from '../../plugins/rate-limit.ts';
import { errorResponses, ref } from './schemas.ts';

const nullableString = { anyOf: [{ type: 'string' }, { type: 'null' }] } as const;

export const selfAppSchema = {
  $id: 'SelfApp',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'label', 'description', 'has_icon', 'launch_url'],
  properties: {
    id: { type: 'string' },
    label: { type: 'string' },
    description: { type: 'string' },
    has_icon: { type: 'boolean', description: 'GET /api/me/apps/{id}/icon has its image.' },
    launch_url: {
      type: 'string',
      description: 'Where the tile goes: the app’s Login URL, with iss=<issuer> appended (OIDC Core §4, third-party-initiated login) unless the app turned that off.',
    },
  },
} as const;

export const selfAppListSchema = {
  $id: 'SelfAppList',
  type: 'object',
  additionalProperties: false,
  required: ['data'],
  properties: { data: { type: 'array', items: ref('SelfApp') } },
} as const;

export const selfProfileSchema = {
  $id: 'SelfProfile',
  type: 'object',
  additionalProperties: false,
  required: ['user', 'groups', 'organisation_name', 'administrator', 'may_edit_displayname', 'password'],
  properties: {
    user: ref('User'),
    groups: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } },
    },
    organisation_name: { type: 'string' },
    administrator: { type: 'boolean', description: 'The person has an administrator role: the admin console (/admin/) is theirs too.' },
    may_edit_displayname: { type: 'boolean', description: 'The organisation lets people change their display name (PATCH /api/me/profile).' },
    password: {
      type: 'object',
      additionalProperties: false,
      required: ['set', 'changed_at', 'managed_externally', 'managed_by'],
      properties: {
        set: { type: 'boolean', description: 'The person has a Gatehouse password.' },
        changed_at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }], description: 'When it was last set; null when never, or before Gatehouse recorded it.' },
        managed_externally: { type: 'boolean', description: 'A routing policy sends the person to an identity provider, where their password is managed.' },
        managed_by: { ...nullableString, description: 'That identity provider’s name.' },
      },
    },
  },
} as const;

/** Registered with the shared schemas (api/index.ts): the admin route for a user's portal apps uses SelfAppList too. */
export const SELF_SERVICE_SCHEMAS = [selfAppSchema, selfAppListSchema, selfProfileSchema] as const;

const appIdParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } } as const;
const ICON_TYPES = ['image/png', 'image/svg+xml'] as const;
// An SVG opened on its own must not run scripts or load anything (as GET /api/apps/{id}/icon).
const ICON_CSP = "default-src 'none'; style-src 'unsafe-inline'";

/** What the portal's profile and security pages show of the person. */
async function profileOf(directory: Directory, user: User) {
  const [groups, settings, provider, changedAt] = await Promise.all([
    directory.groups.groupsOf(user.id),
    directory.settings.get(),
    directory.routingPolicies.routeFor(user.id),
    directory.users.passwordChangedAt(user.id),
  ]);
  return {
    user,
    groups: groups.filter((group) => !group.builtin).map((group) => ({ id: group.id, name: group.name })),
    organisation_name: settings.organisation_name,
    administrator: user.role !== null,
    may_edit_displayname: settings.users_may_edit_displayname,
    password: { set: user.has_password, changed_at: changedAt, managed_externally: provider !== undefined, managed_by: provider?.name ?? null },
  };
}

/**
 * The self-service API behind the user portal: a person signed in to the portal (or the console)
 * reads and changes what is theirs. Never reachable with an API key (see requireSelf). Every change
 * is audited with the person as actor.
 */
export function registerSelfServiceRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator, issuer: string, sessions?: SessionService): void {
  const tags = ['Self-service'];
  const security = [{ bearer: [] }];
  // Wrong current passwords per person per 15 minutes, on top of the account lockout (which counts
  // them too): a stolen portal token can't be used to guess the password at the API's request rate.
  const passwordAttempts = createWindowLimiter({ limit: 5, windowMs: 15 * 60_000 });

  app.get(
    '/me/profile',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        summary: 'The signed-in person’s profile',
        description:
          'Their directory fields, the groups they were added to (All Users left out), whether they are an administrator, whether they may change their display name, and about their password. Needs a user portal sign-in.',
        security,
        response: { 200: ref('SelfProfile'), ...errorResponses },
      },
    },
    async (request) => profileOf(directory, selfOf(request).user),
  );

  app.patch<{ Body: { displayname: string } }>(
    '/me/profile',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        summary: 'Change one’s own display name',
        description: 'Only the display name, and only when the organisation allows it (settings: users_may_edit_displayname); else 403 self.displayname_not_editable.',
        security,
        body: { type: 'object', additionalProperties: false, required: ['displayname'], properties: { displayname: { type: 'string', maxLength: 256 } } },
        response: { 200: ref('SelfProfile'), ...errorResponses },
      },
    },
    async (request) => {
      const { user, actor } = selfOf(request);
      const target = { type: 'user', id: user.id, name: user.username };
      const updated = await directory.change(
        actor,
        'self.profile_update',
        async (d) => {
          if (!(await d.settings.get()).users_may_edit_displayname) {
            throw new DomainError('self.displayname_not_editable', 403, 'Your organisation does not let people change their display name. Ask your administrator.');
          }
          return d.users.change(user.id, { displayname: request.body.displayname });
        },
        (changed) => ({ target, details: { fields: ['displayname'], changes: { displayname: { from: user.displayname, to: changed.displayname } } } }),
        target,
      );
      return profileOf(directory, updated);
    },
  );

  app.get(
    '/me/apps',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        summary: 'The apps on the person’s portal',
        description:
          'Every active app the person may sign in to (a group of theirs is bound to it) that has a Login URL and is shown in the User Portal, by label. launch_url is where its tile goes.',
        security,
        response: { 200: ref('SelfAppList'), ...errorResponses },
      },
    },
    async (request) => ({ data: await portalAppsFor(directory, issuer, selfOf(request).user.id) }),
  );

  app.get<{ Params: { id: string } }>(
    '/me/apps/:id/icon',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        summary: 'The icon of an app on the person’s portal',
        description: 'The image, as image/png or image/svg+xml. 404 app.not_found for an app not on their portal, 404 app.no_icon when it has none.',
        security,
        params: appIdParams,
        response: {
          200: { description: 'The icon.', content: Object.fromEntries(ICON_TYPES.map((type) => [type, { schema: { type: 'string', format: 'binary' } }])) },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const icon = await portalAppIcon(directory, selfOf(request).user.id, request.params.id);
      return reply
        .type(icon.mediaType)
        .header('Content-Security-Policy', ICON_CSP)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Cache-Control', 'private, no-cache')
        .send(Buffer.from(icon.base64, 'base64'));
    },
  );

  app.post<{ Body: { current_password: string; new_password: string } }>(
    '/me/password',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        summary: 'Change one’s own password',
        description:
          'The current password is checked as at sign-in: a wrong one is 400 self.password_incorrect and counts towards the account lockout (then 403 user.locked), and more than 5 wrong ones in 15 minutes are 429. The new one keeps to the password rules (400 user.password_too_short, …). 409 user.password_externally_managed for a person whose password an identity provider manages, 409 self.no_password for one without a Gatehouse password. 204 when changed.',
        security,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['current_password', 'new_password'],
          properties: {
            current_password: { type: 'string', minLength: 1, maxLength: 1024 },
            new_password: { type: 'string', minLength: 1, maxLength: 1024 },
            sign_out_other_sessions: {
              type: 'boolean',
              default: false,
              description: 'Also end every other Gatehouse session of the person (and the app sign-ins made in them), as after a suspected compromise; the session making the change stays.',
            },
          },
        },
        response: { 204: { type: 'null', description: 'Changed.' }, ...errorResponses },
      },
    },
    async (request: FastifyRequest<{ Body: { current_password: string; new_password: string; sign_out_other_sessions?: boolean } }>, reply) => {
      const { user, actor, sessionUid } = selfOf(request);
      // Each attempt takes its place before the check (given back when the password was right), so
      // that attempts sent together can't all pass a limit none has counted yet.
      const attempt = passwordAttempts.reserve(user.id);
      if (!attempt) {
        reply.header('Retry-After', '900');
        throw new DomainError('request.rate_limited', 429, 'Too many wrong passwords. Wait a few minutes and try again.');
      }
      try {
        await changeOwnPassword(directory, actor, user, request.body.current_password, request.body.new_password);
      } catch (error) {
        if (!(error instanceof DomainError && (error.code === 'self.password_incorrect' || error.code === 'user.locked'))) attempt.release();
        throw error;
      }
      attempt.release();
      if (request.body.sign_out_other_sessions && sessions) {
        const others = (await sessions.list(user.id, sessionUid)).filter((session) => !session.current);
        for (const other of others) await sessions.end(user.id, other.id).catch(() => undefined);
        await directory.audit.record(actor, { action: 'self.session.end_others', target: { type: 'user', id: user.id, name: user.username }, details: { sessions: others.length, reason: 'password_change' } });
      }
      return reply.status(204).send();
    },
  );
}

/** The admin view of a person's portal (GET /api/users/{id}/portal-apps), for the console's user page. */
export function userPortalApps(directory: Directory, issuer: string, userId: string) {
  return portalAppsFor(directory, issuer, userId).then((data) => ({ data }));
}
