import type { FastifyInstance } from 'fastify';
import type { Directory, DirectoryStores } from '../../../directory/index.ts';
import type { UserGroup } from '../../../directory/groups.ts';
import type { User } from '../../../directory/users.ts';
import { type ApiAuthenticator, principalOf } from '../../plugins/api-auth.ts';
import { errorResponses, groupSchema, idParams, pageOf, pageQueryProperties, ref } from './schemas.ts';

const groupTarget = (group: UserGroup) => ({ type: 'group', id: group.id, name: group.name });

const groupName = { type: 'string', minLength: 1, maxLength: 128, description: 'Unique, compared without regard to case.' } as const;
const groupDescription = { type: 'string', maxLength: 1024 } as const;
const listQuery = (searchDescription: string) =>
  ({
    type: 'object',
    additionalProperties: false,
    properties: { ...pageQueryProperties, search: { type: 'string', maxLength: 200, description: searchDescription } },
  }) as const;
/** A group in the list: a UserGroup with its member count, which a list screen shows. */
const listedGroup = {
  type: 'object',
  additionalProperties: false,
  required: [...groupSchema.required, 'member_count'],
  properties: {
    ...groupSchema.properties,
    member_count: { type: 'integer', minimum: 0, description: 'How many users are members; for the built-in All Users group, every user.' },
  },
} as const;
const memberParams = {
  type: 'object',
  required: ['id', 'userId'],
  additionalProperties: false,
  properties: { id: idParams.properties.id, userId: { type: 'string', minLength: 1, maxLength: 200, description: 'User id, username or email.' } },
} as const;

export function registerGroupRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  const tags = ['Groups'];

  app.get<{ Querystring: { limit: number; offset: number; search?: string } }>(
    '/groups',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List groups',
        description: 'Ordered by name; includes the built-in All Users group. `search` matches part of the name. Each group carries its `member_count`.',
        querystring: listQuery('Part of the group name, any case.'),
        response: { 200: pageOf(listedGroup), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, offset, search } = request.query;
      const { groups, total } = await directory.groups.page({ limit, offset, search });
      const counts = await directory.groups.memberCounts(groups);
      return { data: groups.map((g) => ({ ...g, member_count: counts.get(g.id) ?? 0 })), total, limit, offset };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/groups/:id',
    { preValidation: auth.require('read'), schema: { tags, summary: 'Get a group', description: 'By id or name.', params: idParams, response: { 200: ref('UserGroup'), ...errorResponses } } },
    async (request) => directory.groups.get(request.params.id),
  );

  app.post<{ Body: { name: string; description?: string } }>(
    '/groups',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Create a group',
        description: 'Names are unique without regard to case: a taken name is a 409 group.name_taken.',
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: groupName, description: groupDescription } },
        response: { 201: ref('UserGroup'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name, description } = request.body;
      const group = await directory.change(principalOf(request).actor, 'group.create', (d) => d.groups.create(name, description), (g) => ({ target: groupTarget(g) }), { type: 'group', name });
      return reply.status(201).send(group);
    },
  );

  app.patch<{ Params: { id: string }; Body: { name?: string; description?: string } }>(
    '/groups/:id',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Rename a group or change its description',
        description: 'Only the fields sent change. The built-in All Users group cannot be renamed (409 group.builtin).',
        params: idParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name: groupName, description: groupDescription } },
        response: { 200: ref('UserGroup'), ...errorResponses },
      },
    },
    async (request) =>
      directory.change(
        principalOf(request).actor,
        'group.update',
        (d) => d.groups.update(request.params.id, request.body),
        (g) => ({ target: groupTarget(g), details: { fields: Object.keys(request.body) } }),
        { type: 'group', id: request.params.id },
      ),
  );

  app.delete<{ Params: { id: string } }>(
    '/groups/:id',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Delete a group',
        description: 'Its memberships and app bindings go with it. The built-in All Users group cannot be deleted (409 group.builtin).',
        params: idParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      await directory.change(principalOf(request).actor, 'group.delete', (d) => d.groups.delete(request.params.id), (g) => ({ target: groupTarget(g) }), {
        type: 'group',
        id: request.params.id,
      });
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; offset: number; search?: string } }>(
    '/groups/:id/members',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List a group’s members',
        description: 'Ordered by username. The built-in All Users group lists every user. `search` matches part of the username or email.',
        params: idParams,
        querystring: listQuery('Part of the username or email, any case.'),
        response: { 200: pageOf(ref('User')), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, offset, search } = request.query;
      const { users, total } = await directory.groups.memberPage(request.params.id, { limit, offset, search });
      return { data: users, total, limit, offset };
    },
  );

  /** Membership changes: audited on the group, naming the user. */
  const membership = (action: 'group.add_member' | 'group.remove_member', groupRef: string, userRef: string) => async (d: DirectoryStores) => {
    const [group, user] = await Promise.all([d.groups.get(groupRef), d.users.get(userRef)]);
    if (action === 'group.add_member') await d.groups.addMember(group.id, user.id);
    else await d.groups.removeMember(group.id, user.id);
    return { group, user };
  };
  const describeMembership = ({ group, user }: { group: UserGroup; user: User }) => ({ target: groupTarget(group), details: { user: { id: user.id, username: user.username } } });

  app.put<{ Params: { id: string; userId: string } }>(
    '/groups/:id/members/:userId',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Add a user to a group',
        description: 'Idempotent: adding a member again changes nothing. The built-in All Users group cannot be changed by hand (409 group.builtin).',
        params: memberParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id, userId } = request.params;
      await directory.change(principalOf(request).actor, 'group.add_member', membership('group.add_member', id, userId), describeMembership, { type: 'group', id });
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: { id: string; userId: string } }>(
    '/groups/:id/members/:userId',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Remove a user from a group',
        description: '404 group.not_a_member when the user is not a member.',
        params: memberParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id, userId } = request.params;
      await directory.change(principalOf(request).actor, 'group.remove_member', membership('group.remove_member', id, userId), describeMembership, { type: 'group', id });
      return reply.status(204).send();
    },
  );
  // GET /groups/:id/apps is registered with the app routes (apps.ts), which know how an app is shown.
}
