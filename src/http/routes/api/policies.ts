import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type AccessPolicy, type AccessPolicyInput, DEFAULT_POLICY, MAX_GRACE_DAYS, POLICY_ACTIONS, POLICY_RESOURCES, SIGN_IN_CONDITIONS } from '../../../authn/policies.ts';
import { DomainError } from '../../../directory/errors.ts';
import type { Directory } from '../../../directory/index.ts';
import { roleAllows } from '../../../directory/roles.ts';
import { type ApiAuthenticator, principalOf } from '../../plugins/api-auth.ts';
import { errorResponses, idParams, ref } from './schemas.ts';

const cidrList = (description: string) => ({ type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 64 }, description }) as const;
const refList = (description: string) => ({ type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 200 }, description }) as const;

/** An access policy as the API shows it (authn/policies.ts). */
export const accessPolicySchema = {
  $id: 'AccessPolicy',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'enabled', 'position', 'resource', 'apps', 'users', 'user_groups', 'addresses_in', 'addresses_not_in', 'sign_in', 'action', 'grace_days', 'created', 'updated'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    enabled: { type: 'boolean' },
    position: { type: 'integer', minimum: 1, description: '1 is evaluated first; the first enabled policy that matches decides.' },
    resource: { type: 'string', enum: [...POLICY_RESOURCES], description: 'portal: the user portal; all_apps: every app and the admin console; apps: the apps listed.' },
    apps: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['id', 'label'], properties: { id: { type: 'string' }, label: { type: 'string' } } } },
    users: { type: 'string', enum: ['all', 'groups'] },
    user_groups: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } } },
    addresses_in: { type: 'array', items: { type: 'string' }, description: 'CIDR blocks; the client address must be in one (empty: any address).' },
    addresses_not_in: { type: 'array', items: { type: 'string' }, description: 'CIDR blocks; the client address must be in none.' },
    sign_in: { type: 'string', enum: [...SIGN_IN_CONDITIONS], description: 'federated: signed in through an upstream identity provider; not_federated: not; any: either.' },
    action: { type: 'string', enum: [...POLICY_ACTIONS] },
    grace_days: { type: 'integer', minimum: 0, maximum: MAX_GRACE_DAYS, description: 'require_mfa: days a person without a factor may postpone enrolling, from when the policy first required it of them.' },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

export const accessPolicyListSchema = {
  $id: 'AccessPolicyList',
  type: 'object',
  additionalProperties: false,
  required: ['data', 'total', 'default_policy'],
  properties: {
    data: { type: 'array', items: ref('AccessPolicy') },
    total: { type: 'integer' },
    default_policy: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'action'],
      properties: { name: { type: 'string' }, action: { type: 'string', enum: [...POLICY_ACTIONS] } },
      description: 'Decides when no enabled policy matches: allow (an app still admits only the groups bound to it).',
    },
  },
} as const;

export const POLICY_SCHEMAS = [accessPolicySchema, accessPolicyListSchema] as const;

const writable = {
  name: { type: 'string', minLength: 1, maxLength: 128 },
  enabled: { type: 'boolean' },
  position: { type: 'integer', minimum: 1, description: 'Where to put it (1 = first); at the end when absent.' },
  resource: { type: 'string', enum: [...POLICY_RESOURCES] },
  apps: refList('With resource apps: app ids, client ids or labels.'),
  users: { type: 'string', enum: ['all', 'groups'] },
  user_groups: refList('With users groups: group ids or names.'),
  addresses_in: cidrList('IPv4 or IPv6 CIDR blocks (a bare address is a block of one).'),
  addresses_not_in: cidrList('IPv4 or IPv6 CIDR blocks.'),
  sign_in: { type: 'string', enum: [...SIGN_IN_CONDITIONS] },
  action: { type: 'string', enum: [...POLICY_ACTIONS] },
  grace_days: { type: 'integer', minimum: 0, maximum: MAX_GRACE_DAYS },
} as const;

/** Reading policies needs the role that manages them, though not a read_write key. */
async function requireSettingsRole(request: FastifyRequest): Promise<void> {
  const { role } = principalOf(request);
  if (!roleAllows(role, 'settings')) throw new DomainError('auth.forbidden', 403, `The role ${role} does not allow this.`);
}

const target = (policy: AccessPolicy) => ({ type: 'access_policy', id: policy.id, name: policy.name });
const summary = (policy: AccessPolicy) => ({ action: policy.action, resource: policy.resource, position: policy.position, enabled: policy.enabled });

/** /api/policies: the access policies (issue 12 §3), in order, and the default. Changes are audited. */
export function registerPolicyRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  const tags = ['Access policies'];
  const readSettings = [auth.require('read'), requireSettingsRole];
  const listOf = (policies: AccessPolicy[]) => ({ data: policies, total: policies.length, default_policy: DEFAULT_POLICY });

  app.get(
    '/policies',
    {
      preValidation: readSettings,
      schema: { tags, summary: 'List access policies', description: 'In evaluation order, then the default policy. Only for administrators with billing.', response: { 200: ref('AccessPolicyList'), ...errorResponses } },
    },
    async () => listOf(await directory.accessPolicies.list()),
  );

  app.get<{ Params: { id: string } }>(
    '/policies/:id',
    { preValidation: readSettings, schema: { tags, summary: 'Get an access policy', description: 'By id or name (any case).', params: idParams, response: { 200: ref('AccessPolicy'), ...errorResponses } } },
    async (request) => directory.accessPolicies.get(request.params.id),
  );

  app.post<{ Body: AccessPolicyInput & { name: string } }>(
    '/policies',
    {
      preValidation: auth.require('settings'),
      schema: {
        tags,
        summary: 'Add an access policy',
        description: 'Invalid fields are 400 access_policy.invalid_<field>; a taken name (any case) 409 access_policy.name_taken.',
        body: { type: 'object', additionalProperties: false, required: ['name', 'resource', 'action'], properties: writable },
        response: { 201: ref('AccessPolicy'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const policy = await directory.change(
        principalOf(request).actor,
        'access_policy.create',
        (d) => d.accessPolicies.create(request.body),
        (p) => ({ target: target(p), details: summary(p) }),
        { type: 'access_policy', name: request.body.name },
      );
      return reply.status(201).send(policy);
    },
  );

  // Before /policies/:id, so that "order" is never taken for a policy's name.
  app.put<{ Body: { ids: string[] } }>(
    '/policies/order',
    {
      preValidation: auth.require('settings'),
      schema: {
        tags,
        summary: 'Reorder the access policies',
        description: 'Every policy, by id or name, each once, in the new evaluation order. All or nothing: 400 access_policy.invalid_order otherwise.',
        body: { type: 'object', additionalProperties: false, required: ['ids'], properties: { ids: refList('Every policy, first evaluated first.') } },
        response: { 200: ref('AccessPolicyList'), ...errorResponses },
      },
    },
    async (request) =>
      listOf(
        await directory.change(
          principalOf(request).actor,
          'access_policy.reorder',
          (d) => d.accessPolicies.reorder(request.body.ids),
          (policies) => ({ details: { order: policies.map((p) => p.name) } }),
        ),
      ),
  );

  app.patch<{ Params: { id: string }; Body: AccessPolicyInput }>(
    '/policies/:id',
    {
      preValidation: auth.require('settings'),
      schema: {
        tags,
        summary: 'Change an access policy',
        description: 'Only the fields sent change; lists sent replace the policy’s lists; position moves it.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: writable },
        response: { 200: ref('AccessPolicy'), ...errorResponses },
      },
    },
    async (request) =>
      directory.change(
        principalOf(request).actor,
        'access_policy.update',
        (d) => d.accessPolicies.update(request.params.id, request.body),
        (p) => ({ target: target(p), details: { fields: Object.keys(request.body), ...summary(p) } }),
        { type: 'access_policy', id: request.params.id },
      ),
  );

  app.delete<{ Params: { id: string } }>(
    '/policies/:id',
    {
      preValidation: auth.require('settings'),
      schema: { tags, summary: 'Delete an access policy', description: 'The policies after it move up.', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (request, reply) => {
      await directory.change(principalOf(request).actor, 'access_policy.delete', (d) => d.accessPolicies.remove(request.params.id), (p) => ({ target: target(p) }), {
        type: 'access_policy',
        id: request.params.id,
      });
      return reply.status(204).send();
    },
  );
}
