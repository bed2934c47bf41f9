import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ApiKey, type ApiKeyScope, API_KEY_SCOPES, issueApiKey } from '../../../directory/api-keys.ts';
import { recordOutcome } from '../../../directory/audit.ts';
import { DomainError, notFound } from '../../../directory/errors.ts';
import { roleAllows, roleCovers } from '../../../directory/roles.ts';
import type { SigningKeyInfo } from '../../../oidc/keys.ts';
import { type ApiAuthenticator, type Principal, can, principalOf } from '../../plugins/api-auth.ts';
import type { ApiDependencies } from './index.ts';
import { errorResponses, idParams, ref } from './schemas.ts';

const apiKeyTarget = (key: ApiKey) => ({ type: 'api_key', id: key.id, name: `${key.owner.username}/${key.name}` });

const describeRotation = (keys: readonly SigningKeyInfo[]) => {
  const kid = (state: SigningKeyInfo['state']) => keys.find((k) => k.state === state)?.kid ?? null;
  return { target: { type: 'signing_key', id: kid('current') ?? undefined }, details: { current: kid('current'), next: kid('next') } };
};

/** Any write needs a read_write key, whatever the role behind it. */
function assertWritable(principal: Principal): void {
  if (principal.scope !== 'read_write') throw new DomainError('auth.forbidden', 403, 'This API key is read-only.');
}

/** Whether the caller may see and manage every administrator's API keys (seeing needs the role only). */
const seesAllKeys = (principal: Principal) => roleAllows(principal.role, 'security');

export function registerSecurityRoutes(app: FastifyInstance, deps: ApiDependencies, auth: ApiAuthenticator): void {
  const { directory, runtime } = deps;

  app.get(
    '/signing-keys',
    {
      preValidation: auth.require('read'),
      schema: {
        tags: ['Signing keys'],
        summary: 'List the keys that sign ID tokens',
        description:
          '`current` signs; `next` is already published so relying parties cache it before it signs; `previous` stays published until `retire_at`, when the tokens it signed have expired. Public information only.',
        response: { 200: { type: 'array', items: ref('SigningKey') }, ...errorResponses },
      },
    },
    async () => runtime.keys.list(),
  );

  app.post(
    '/signing-keys/rotate',
    {
      preValidation: auth.require('security'),
      schema: {
        tags: ['Signing keys'],
        summary: 'Rotate the signing keys',
        description: 'Promotes `next` to `current`, retires `current` (published until its tokens expire) and publishes a fresh `next`. Every server picks the change up within seconds.',
        response: { 200: { type: 'array', items: ref('SigningKey') }, ...errorResponses },
      },
    },
    async (request) => recordOutcome(directory.audit, principalOf(request).actor, 'keys.rotate', () => runtime.keys.rotate(), describeRotation, { type: 'signing_key' }),
  );

  const tags = ['API keys'];

  app.get<{ Querystring: { owner?: string } }>(
    '/api-keys',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List API keys',
        description:
          'Your own keys; with a role that manages security, every administrator’s, or those of `owner` (id, username or email). Newest first, revoked and expired keys included. Never the key itself.',
        querystring: { type: 'object', additionalProperties: false, properties: { owner: { type: 'string', minLength: 1, maxLength: 254 } } },
        response: { 200: { type: 'array', items: ref('ApiKey') }, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { owner } = request.query;
      if (seesAllKeys(principal)) return directory.apiKeys.list({ owner });
      if (owner !== undefined && (await directory.users.get(owner)).id !== principal.user.id) {
        throw new DomainError('auth.forbidden', 403, `The role ${principal.role} may list only your own API keys.`);
      }
      return directory.apiKeys.list({ owner: principal.user.id });
    },
  );

  app.post<{ Body: { name: string; scope: ApiKeyScope; expires?: string | null; owner?: string } }>(
    '/api-keys',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'Create an API key',
        description:
          'The key is in the response, once: store it then. Any administrator may create keys for themselves (with a read_write key); creating one for another administrator (`owner`) needs a role that manages security and covers theirs. A key never does more than its owner’s role: an owner who may only read gets only read_only keys. A `scim` key is for a SCIM provisioning client (Entra ID, Okta…): it works only under `scim_base_url` (`<issuer>/scim/v2`), never on /api, and its owner’s role must allow changing users and groups.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'scope'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 128 },
            scope: { type: 'string', enum: API_KEY_SCOPES },
            // One schema with both types: with anyOf, type coercion would turn null into "" (the string branch comes first).
            expires: { type: ['string', 'null'], maxLength: 64, description: 'ISO 8601 date and time, in the future; null (or absent): never.' },
            owner: { type: 'string', minLength: 1, maxLength: 254, description: 'The owning administrator: id, username or email. Default: you.' },
          },
        },
        response: {
          201: {
            type: 'object',
            additionalProperties: false,
            required: ['api_key', 'key'],
            properties: {
              api_key: ref('ApiKey'),
              key: { type: 'string', description: 'The key itself. Shown only here.' },
              scim_base_url: { type: 'string', description: 'For a scim key: the SCIM base URL (tenant URL) to give the provisioning client with the key.' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      assertWritable(principal);
      const { name, scope, expires, owner: ownerRef } = request.body;
      const owner = ownerRef === undefined ? principal.user : await directory.users.get(ownerRef);
      if (owner.id !== principal.user.id) assertMayManageKeysOf(principal, owner.role, 'create');
      const { apiKey, key } = await directory.change(
        principal.actor,
        'api_key.create',
        (d) => issueApiKey(d, { owner: owner.id, name, scope, expires }),
        (created) => ({ target: apiKeyTarget(created.apiKey), details: { owner: owner.username, scope: created.apiKey.scope, expires: created.apiKey.expires } }),
        { type: 'api_key', name: `${owner.username}/${name}` },
      );
      const scimBaseUrl = apiKey.scope === 'scim' ? { scim_base_url: `${runtime.config.issuer.replace(/\/$/, '')}/scim/v2` } : {};
      return reply.status(201).send({ api_key: apiKey, key, ...scimBaseUrl });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api-keys/:id',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'Revoke an API key',
        description:
          'It stops working at once and stays listed as revoked. Your own keys always; another administrator’s with a role that manages security and covers theirs (nobody shuts out a more powerful administrator).',
        params: idParams,
        response: { 200: ref('ApiKey'), ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertWritable(principal);
      const key = await visibleKey(request, principal);
      if (key.owner.id !== principal.user.id) assertMayManageKeysOf(principal, (await directory.users.get(key.owner.id)).role, 'revoke');
      return directory.change(principal.actor, 'api_key.revoke', (d) => d.apiKeys.revoke(key.id), (revoked) => ({ target: apiKeyTarget(revoked), details: { owner: revoked.owner.username } }), apiKeyTarget(key));
    },
  );

  /** Another administrator's keys are not even known to someone who may not see them. */
  async function visibleKey(request: FastifyRequest<{ Params: { id: string } }>, principal: Principal): Promise<ApiKey> {
    const key = await directory.apiKeys.get(request.params.id);
    if (key.owner.id !== principal.user.id && !seesAllKeys(principal)) throw notFound('api_key', request.params.id);
    return key;
  }
}

/** Managing another administrator's keys needs the security permission and a role that covers theirs. */
function assertMayManageKeysOf(principal: Principal, ownerRole: Principal['role'] | null, verb: 'create' | 'revoke'): void {
  if (!can(principal, 'security')) throw new DomainError('auth.forbidden', 403, `The role ${principal.role} may ${verb} only your own API keys.`);
  if (ownerRole && !roleCovers(principal.role, ownerRole)) {
    throw new DomainError('auth.forbidden', 403, `Your role (${principal.role}) cannot ${verb} API keys of an administrator with the role ${ownerRole}.`);
  }
}
