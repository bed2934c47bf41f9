import type { FastifyInstance } from 'fastify';
import type { Directory } from '../../../directory/index.ts';
import type { Role } from '../../../directory/roles.ts';
import { PERMISSIONS, roleCovers } from '../../../directory/roles.ts';
import { DomainError } from '../../../directory/errors.ts';
import type { CreateUserInput, User, UserChanges } from '../../../directory/users.ts';
import { refuseExternallyManagedPassword } from '../../../federation/routing.ts';
import { type ApiAuthenticator, assertMayActOn, can, principalOf } from '../../plugins/api-auth.ts';
import { userPortalApps } from './me.ts';
import { ROLE_VALUES, errorResponses, groupSchema, idParams, pageOf, pageQueryProperties, ref, userSchema } from './schemas.ts';

const userTarget = (user: User) => ({ type: 'user', id: user.id, name: user.username });

const attributes = { type: 'object', maxProperties: 100, additionalProperties: { type: 'string', maxLength: 1024 } } as const;
const profileProperties = {
  username: { type: 'string', minLength: 1, maxLength: 128 },
  email: { type: 'string', minLength: 3, maxLength: 254 },
  firstname: { type: 'string', maxLength: 256 },
  lastname: { type: 'string', maxLength: 256 },
  displayname: { type: 'string', maxLength: 256 },
  attributes,
} as const;

/** A user in the list: with the groups they were added to, which a list screen shows. */
const listedUser = {
  type: 'object',
  additionalProperties: false,
  required: [...userSchema.required, 'groups'],
  properties: {
    ...userSchema.properties,
    groups: {
      type: 'array',
      description: 'The groups the user was added to, by name (All Users, which everyone is in, is left out).',
      items: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } },
    },
  },
} as const;

export function registerUserRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator, issuer: string): void {
  const tags = ['Users'];

  app.get(
    '/me',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'Who is calling',
        description: 'The person behind the credential, their role, and what this credential may do (a read-only API key holds `read` only, whatever the role).',
        response: {
          200: {
            type: 'object',
            required: ['user', 'role', 'permissions', 'credential'],
            additionalProperties: false,
            properties: {
              user: ref('User'),
              role: { type: 'string', enum: ROLE_VALUES },
              permissions: { type: 'array', items: { type: 'string', enum: [...PERMISSIONS] } },
              credential: { type: 'string', enum: ['api_key', 'console_session'], description: 'An API key, or an admin console sign-in.' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return {
        user: principal.user,
        role: principal.role,
        permissions: PERMISSIONS.filter((permission) => can(principal, permission)),
        credential: principal.apiKey ? 'api_key' : 'console_session',
      };
    },
  );

  app.get<{ Querystring: { limit: number; offset: number; search?: string } }>(
    '/users',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List users',
        description:
          'Ordered by username. `search` matches part of the username, email or name. Each user carries the `groups` they were added to (every user is also in All Users, which is not listed).',
        querystring: { type: 'object', additionalProperties: false, properties: { ...pageQueryProperties, search: { type: 'string', maxLength: 200 } } },
        response: { 200: pageOf(listedUser), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, offset, search } = request.query;
      const { users, total } = await directory.users.page({ limit, offset, search });
      const memberships = await directory.groups.membershipsOf(users.map((u) => u.id));
      return { data: users.map((u) => ({ ...u, groups: memberships.get(u.id) ?? [] })), total, limit, offset };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/users/:id',
    { preValidation: auth.require('read'), schema: { tags, summary: 'Get a user', description: 'By id, username or email.', params: idParams, response: { 200: ref('User'), ...errorResponses } } },
    async (request) => directory.users.get(request.params.id),
  );

  app.post<{ Body: CreateUserInput & { role?: Role | null } }>(
    '/users',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Create a user',
        description: 'Without a password the user can sign in only once one is set. A role makes them an administrator (not above your own).',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'email'],
          properties: {
            ...profileProperties,
            password: { type: 'string', minLength: 1, maxLength: 1024 },
            state: { type: 'string', enum: ['STAGED', 'ACTIVATED'] },
            role: { anyOf: [{ type: 'string', enum: ROLE_VALUES }, { type: 'null' }] },
          },
        },
        response: { 201: ref('User'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (request.body.role) {
        // Handing out a role is the security permission, however it is done.
        if (!can(principal, 'security')) throw new DomainError('auth.forbidden', 403, `The role ${principal.role} cannot grant roles.`);
        assertMayGrant(principal.role, request.body.role);
      }
      const user = await directory.change(principal.actor, 'user.create', (d) => d.users.create(request.body), (u) => ({ target: userTarget(u) }), { type: 'user', name: request.body.username });
      return reply.status(201).send(user);
    },
  );

  app.patch<{ Params: { id: string }; Body: UserChanges }>(
    '/users/:id',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Change a user’s profile',
        description: 'Only the fields sent change. `attributes` replaces all custom attributes.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: profileProperties },
        response: { 200: ref('User'), ...errorResponses },
      },
    },
    async (request) => {
      await assertMayActOn(directory, principalOf(request).role, request.params.id);
      return directory.change(
        principalOf(request).actor,
        'user.update',
        (d) => d.users.change(request.params.id, request.body),
        (u) => ({ target: userTarget(u), details: { fields: Object.keys(request.body) } }),
        { type: 'user', id: request.params.id },
      );
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/users/:id',
    { preValidation: auth.require('directory'), schema: { tags, summary: 'Delete a user', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (request, reply) => {
      const principal = principalOf(request);
      const target = await directory.users.get(request.params.id);
      if (target.id === principal.user.id) throw new DomainError('user.self_delete', 409, 'You cannot delete your own account.');
      await assertMayActOn(directory, principal.role, target.id);
      await directory.change(principal.actor, 'user.delete', (d) => d.users.delete(target.id), (u) => ({ target: userTarget(u) }));
      return reply.status(204).send();
    },
  );

  /** State changes a help desk may make. */
  for (const [action, verb, summary] of [
    ['suspend', 'user.suspend', 'Suspend a user (ends their sessions and revokes their tokens)'],
    ['activate', 'user.activate', 'Activate a staged or suspended user'],
    ['unlock', 'user.unlock', 'Unlock a user locked out by failed sign-ins'],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/users/:id/${action}`,
      { preValidation: auth.require('helpdesk'), schema: { tags, summary, params: idParams, response: { 200: ref('User'), ...errorResponses } } },
      async (request) => {
        await assertMayActOn(directory, principalOf(request).role, request.params.id);
        return directory.change(principalOf(request).actor, verb, (d) => d.users[action](request.params.id), (u) => ({ target: userTarget(u) }), { type: 'user', id: request.params.id });
      },
    );
  }

  app.put<{ Params: { id: string }; Body: { password: string } }>(
    '/users/:id/password',
    {
      preValidation: auth.require('helpdesk'),
      schema: {
        tags,
        summary: 'Set a user’s password',
        description: 'Refused (409 user.password_externally_managed) for a user a routing policy sends to an identity provider: their password is managed there.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['password'], properties: { password: { type: 'string', minLength: 1, maxLength: 1024 } } },
        response: { 200: ref('User'), ...errorResponses },
      },
    },
    async (request) => {
      await assertMayActOn(directory, principalOf(request).role, request.params.id);
      return directory.change(
        principalOf(request).actor,
        'user.set_password',
        async (d) => {
          await refuseExternallyManagedPassword(d, request.params.id);
          return d.users.setPassword(request.params.id, request.body.password);
        },
        (u) => ({ target: userTarget(u) }),
        {
          type: 'user',
          id: request.params.id,
        },
      );
    },
  );

  app.put<{ Params: { id: string }; Body: { role: Role | null } }>(
    '/users/:id/role',
    {
      preValidation: auth.require('security'),
      schema: {
        tags,
        summary: 'Set or remove a user’s administrator role',
        description: 'null removes the role. Nobody grants or removes a role above their own.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['role'], properties: { role: { anyOf: [{ type: 'string', enum: ROLE_VALUES }, { type: 'null' }] } } },
        response: { 200: ref('User'), ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const target = await directory.users.get(request.params.id);
      if (target.role) assertMayGrant(principal.role, target.role);
      if (request.body.role) assertMayGrant(principal.role, request.body.role);
      return directory.change(principal.actor, 'user.set_role', (d) => d.users.setRole(target.id, request.body.role), (u) => ({ target: userTarget(u), details: { role: request.body.role } }));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/users/:id/groups',
    {
      preValidation: auth.require('read'),
      schema: { tags, summary: 'The groups a user belongs to', description: 'Always includes the built-in All Users group.', params: idParams, response: { 200: { type: 'array', items: groupSchemaRef }, ...errorResponses } },
    },
    async (request) => directory.groups.groupsOf((await directory.users.get(request.params.id)).id),
  );

  app.get<{ Params: { id: string } }>(
    '/users/:id/portal-apps',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'The apps a user sees in the User Portal',
        description: 'Exactly the tiles of their portal (GET /api/me/apps): active apps bound to a group of theirs, with a Login URL and shown in the portal. None while the user can’t sign in (suspended, staged, locked).',
        params: idParams,
        response: { 200: ref('SelfAppList'), ...errorResponses },
      },
    },
    async (request) => userPortalApps(directory, issuer, (await directory.users.get(request.params.id)).id),
  );
}

const groupSchemaRef = ref(groupSchema.$id);

function assertMayGrant(own: Role, wanted: Role): void {
  if (!roleCovers(own, wanted)) throw new DomainError('auth.forbidden', 403, `Your role (${own}) cannot grant or remove the role ${wanted}.`);
}
