import type { FastifyInstance } from 'fastify';
import type { Directory } from '../../../directory/index.ts';
import type { UserGroup } from '../../../directory/groups.ts';
import { type ApiAuthenticator, principalOf } from '../../plugins/api-auth.ts';
import { badQuery, connection, connectionSchema, opBody, orgHeaders, pageQuery, project, splitList, tags } from './jumpcloud-common.ts';
import { errorResponses, idParams } from './schemas.ts';

/** A group as JumpCloud's v2 API shows a user group. */
export function toUserGroup(group: UserGroup) {
  return {
    id: group.id,
    name: group.name,
    type: 'user_group',
    description: group.description,
    email: '',
    attributes: {},
    // The built-in All Users group is computed (every user); the others are kept by hand.
    membershipMethod: group.builtin ? 'DYNAMIC_AUTOMATED' : 'STATIC',
  };
}
type JumpCloudGroup = ReturnType<typeof toUserGroup>;

const userGroupSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'A group in the shape of a JumpCloud user group. With `fields`, only those (and the id) are present.',
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    name: { type: 'string' },
    type: { type: 'string', enum: ['user_group'] },
    description: { type: 'string' },
    email: { type: 'string', description: 'Always empty.' },
    attributes: { type: 'object', additionalProperties: false, description: 'Always empty.' },
    membershipMethod: { type: 'string', enum: ['STATIC', 'DYNAMIC_AUTOMATED'], description: 'DYNAMIC_AUTOMATED for the built-in All Users group.' },
  },
} as const;

const groupBodyProperties = {
  name: { type: 'string', minLength: 1, maxLength: 128 },
  description: { type: 'string', maxLength: 1024 },
  email: { type: 'string', maxLength: 0, description: 'Accepted empty only.' },
  attributes: { type: 'object', maxProperties: 0, description: 'Accepted empty only: Gatehouse keeps no group attributes.' },
} as const;

type GroupBody = { name?: string; description?: string; email?: string; attributes?: Record<string, never> };

const GROUP_FIELDS = ['id', 'name', 'description', 'type'] as const;
type GroupField = (typeof GROUP_FIELDS)[number];
const GROUP_OPERATORS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'in', 'search'] as const;
type GroupOperator = (typeof GROUP_OPERATORS)[number];

/** v2 filters: `field:op:value`; `in` takes `a|b|c`; `search` matches part of the value, ignoring case. */
function groupFilter(text: string, path: string): (group: JumpCloudGroup) => boolean {
  const match = /^([A-Za-z_]+):([a-z]+):(.*)$/s.exec(text);
  if (!match) throw badQuery(path, `"${text}" is not a filter: use field:op:value, e.g. name:eq:Engineering.`);
  const [, field = '', op = '', value = ''] = match;
  if (!GROUP_FIELDS.includes(field as GroupField)) throw badQuery(path, `Cannot filter on "${field}": use one of ${GROUP_FIELDS.join(', ')}.`);
  if (!GROUP_OPERATORS.includes(op as GroupOperator)) throw badQuery(path, `Unknown operator "${op}": use one of ${GROUP_OPERATORS.join(', ')}.`);
  const get = (group: JumpCloudGroup) => group[field as GroupField];
  const values = value.split('|');
  const term = value.toLowerCase();
  const tests: Record<GroupOperator, (v: string) => boolean> = {
    eq: (v) => v === value,
    ne: (v) => v !== value,
    gt: (v) => v > value,
    ge: (v) => v >= value,
    lt: (v) => v < value,
    le: (v) => v <= value,
    in: (v) => values.includes(v),
    search: (v) => v.toLowerCase().includes(term),
  };
  const test = tests[op as GroupOperator];
  return (group) => test(get(group));
}

function groupSort(text: string | undefined): (a: JumpCloudGroup, b: JumpCloudGroup) => number {
  const keys = splitList(text).map((item) => {
    const field = item.replace(/^[-+]/, '');
    if (!GROUP_FIELDS.includes(field as GroupField)) throw badQuery('querystring.sort', `Cannot sort on "${field}": use one of ${GROUP_FIELDS.join(', ')}.`);
    return { field: field as GroupField, sign: item.startsWith('-') ? -1 : 1 };
  });
  return (a, b) => {
    for (const { field, sign } of keys) {
      if (a[field] !== b[field]) return a[field] < b[field] ? -sign : sign;
    }
    return 0;
  };
}

const groupTarget = (group: UserGroup) => ({ type: 'group', id: group.id, name: group.name });

const ASSOCIATION_TARGETS = [
  'active_directory', 'application', 'command', 'g_suite', 'ldap_server', 'office_365', 'policy', 'policy_group', 'radius_server', 'system', 'system_group', 'user',
] as const;

export function registerUserGroupRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  const page = pageQuery(100);
  const listOf = (items: object) => ({ 200: { type: 'array', items }, ...errorResponses });

  app.get<{ Querystring: { limit: number; skip: number; sort?: string; fields?: string; filter?: string[] } }>(
    '/v2/usergroups',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List user groups (JumpCloud v2)',
        description:
          'A bare array, by name unless `sort` says otherwise; `x-total-count` gives the number matching. `filter=field:op:value` ' +
          `on ${GROUP_FIELDS.join(', ')} with ${GROUP_OPERATORS.join(' ')} (\`in\` takes a|b|c; \`search\` matches part, ignoring case); several are ANDed. ` +
          '`sort` and `fields` take comma-separated names.',
        headers: orgHeaders,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...page,
            sort: { type: 'string', maxLength: 500 },
            fields: { type: 'string', maxLength: 500 },
            filter: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 2048 } },
          },
        },
        response: listOf(userGroupSchema),
      },
    },
    async (request, reply) => {
      const { limit, skip, sort, fields, filter = [] } = request.query;
      const tests = filter.map((text, i) => groupFilter(text, `querystring.filter${filter.length > 1 ? `[${i}]` : ''}`));
      const order = groupSort(sort);
      // Groups are few: filtered and sorted in memory.
      const groups = (await directory.groups.list()).map(toUserGroup).filter((group) => tests.every((test) => test(group)));
      groups.sort(order);
      reply.header('x-total-count', String(groups.length));
      const wanted = splitList(fields);
      return groups.slice(skip, skip + limit).map((group) => project(group, wanted, ['id']));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v2/usergroups/:id',
    {
      preValidation: auth.require('read'),
      schema: { tags, summary: 'Get a user group (JumpCloud v2)', description: 'By id (a name works too).', headers: orgHeaders, params: idParams, response: { 200: userGroupSchema, ...errorResponses } },
    },
    async (request) => toUserGroup(await directory.groups.get(request.params.id)),
  );

  app.post<{ Body: GroupBody & { name: string } }>(
    '/v2/usergroups',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Create a user group (JumpCloud v2)',
        headers: orgHeaders,
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: groupBodyProperties },
        response: { 201: userGroupSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name, description } = request.body;
      const group = await directory.change(principalOf(request).actor, 'group.create', (d) => d.groups.create(name, description), (g) => ({ target: groupTarget(g) }), { type: 'group', name });
      return reply.status(201).send(toUserGroup(group));
    },
  );

  for (const method of ['put', 'patch'] as const) {
    app[method]<{ Params: { id: string }; Body: GroupBody }>(
      '/v2/usergroups/:id',
      {
        preValidation: auth.require('directory'),
        schema: {
          tags,
          summary: method === 'put' ? 'Update a user group (JumpCloud v2)' : 'Partially update a user group (JumpCloud v2)',
          description: 'Renames the group or changes its description (a description not sent is kept). The built-in All Users group keeps its name.',
          headers: orgHeaders,
          params: idParams,
          body:
            method === 'put'
              ? { type: 'object', additionalProperties: false, required: ['name'], properties: groupBodyProperties }
              : { type: 'object', additionalProperties: false, minProperties: 1, properties: groupBodyProperties },
          response: { 200: userGroupSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { name, description } = request.body;
        const fields = Object.keys(request.body);
        const group = await directory.change(
          principalOf(request).actor,
          'group.update',
          (d) => d.groups.update(request.params.id, { name, description }),
          (g) => ({ target: groupTarget(g), details: { fields } }),
          { type: 'group', id: request.params.id },
        );
        return toUserGroup(group);
      },
    );
  }

  app.delete<{ Params: { id: string } }>(
    '/v2/usergroups/:id',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Delete a user group (JumpCloud v2)',
        description: 'Returns the deleted group, as JumpCloud does. The built-in All Users group cannot be deleted.',
        headers: orgHeaders,
        params: idParams,
        response: { 200: userGroupSchema, ...errorResponses },
      },
    },
    async (request) => {
      const group = await directory.change(principalOf(request).actor, 'group.delete', (d) => d.groups.delete(request.params.id), (g) => ({ target: groupTarget(g) }), {
        type: 'group',
        id: request.params.id,
      });
      return toUserGroup(group);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; skip: number } }>(
    '/v2/usergroups/:id/members',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List the members of a user group (JumpCloud v2)',
        description: 'User ids only (join against /systemusers), by username; `x-total-count` gives the number of members. All Users lists every user.',
        headers: orgHeaders,
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: page },
        response: listOf(connectionSchema),
      },
    },
    async (request, reply) => {
      const { limit, skip } = request.query;
      const { users, total } = await directory.groups.memberPage(request.params.id, { limit, offset: skip });
      reply.header('x-total-count', String(total));
      return users.map((user) => connection(user.id, 'user'));
    },
  );

  app.post<{ Params: { id: string }; Body: { op: 'add' | 'remove'; type: 'user'; id: string } }>(
    '/v2/usergroups/:id/members',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Add or remove a member of a user group (JumpCloud v2)',
        description: 'Adding a member twice is harmless; removing a non-member is 404. All Users cannot be changed by hand.',
        headers: orgHeaders,
        params: idParams,
        body: opBody('user'),
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { op, id } = request.body;
      await directory.change(
        principalOf(request).actor,
        op === 'add' ? 'group.add_member' : 'group.remove_member',
        async (d) => {
          const [group, user] = await Promise.all([d.groups.get(request.params.id), d.users.get(id)]);
          await (op === 'add' ? d.groups.addMember(group.id, user.id) : d.groups.removeMember(group.id, user.id));
          return { group, user };
        },
        ({ group, user }) => ({ target: groupTarget(group), details: { user: { id: user.id, username: user.username } } }),
        { type: 'group', id: request.params.id },
      );
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; skip: number; targets: string[] } }>(
    '/v2/usergroups/:id/associations',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List the associations of a user group (JumpCloud v2)',
        description: 'With targets=application: the SSO apps the group is bound to. Gatehouse has none of the other kinds, so they list empty.',
        headers: orgHeaders,
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['targets'],
          properties: { ...page, targets: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', enum: ASSOCIATION_TARGETS } } },
        },
        response: listOf(connectionSchema),
      },
    },
    async (request, reply) => {
      const { limit, skip, targets } = request.query;
      const group = await directory.groups.get(request.params.id);
      const apps = targets.includes('application') ? await directory.apps.boundToGroup(group.id) : [];
      reply.header('x-total-count', String(apps.length));
      return apps.slice(skip, skip + limit).map((app) => connection(app.id, 'application'));
    },
  );

  app.post<{ Params: { id: string }; Body: { op: 'add' | 'remove'; type: 'application'; id: string } }>(
    '/v2/usergroups/:id/associations',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Bind or unbind an SSO app to a user group (JumpCloud v2)',
        description: 'op add binds the app (its members may sign in to it), remove unbinds it. Audited as app.bind / app.unbind.',
        headers: orgHeaders,
        params: idParams,
        body: opBody('application'),
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { op, id } = request.body;
      await directory.change(
        principalOf(request).actor,
        op === 'add' ? 'app.bind' : 'app.unbind',
        async (d) => {
          const [group, app] = await Promise.all([d.groups.get(request.params.id), d.apps.get(id)]);
          await (op === 'add' ? d.apps.bind(app.id, group.id) : d.apps.unbind(app.id, group.id));
          return { group, app };
        },
        ({ group, app }) => ({ target: { type: 'app', id: app.id, name: app.label }, details: { group: { id: group.id, name: group.name } } }),
        { type: 'app', id },
      );
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; skip: number } }>(
    '/v2/users/:id/memberof',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List the groups a user belongs to (JumpCloud v2)',
        description: 'Always includes the built-in All Users group; by group name. `compiledAttributes.ldapGroups[0].name` is the group name.',
        headers: orgHeaders,
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: page },
        response: listOf({
          type: 'object',
          additionalProperties: false,
          required: ['id', 'type', 'compiledAttributes', 'paths'],
          properties: {
            id: { type: 'string' },
            type: { type: 'string', enum: ['user_group'] },
            compiledAttributes: {
              type: 'object',
              additionalProperties: false,
              properties: {
                ldapGroups: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string' } } } },
              },
            },
            paths: { type: 'array', items: { type: 'array', items: connectionSchema } },
          },
        }),
      },
    },
    async (request, reply) => {
      const { limit, skip } = request.query;
      const user = await directory.users.get(request.params.id);
      const groups = await directory.groups.groupsOf(user.id);
      reply.header('x-total-count', String(groups.length));
      return groups.slice(skip, skip + limit).map((group) => ({
        id: group.id,
        type: 'user_group',
        compiledAttributes: { ldapGroups: [{ name: group.name }] },
        paths: [[connection(group.id, 'user_group')]],
      }));
    },
  );
}
