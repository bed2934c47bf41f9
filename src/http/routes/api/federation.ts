import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../../directory/errors.ts';
import type { Directory } from '../../../directory/index.ts';
import { roleAllows } from '../../../directory/roles.ts';
import {
  FEDERATION_CALLBACK_PATH,
  FIRST_LOGIN_MODES,
  IDENTITY_PROVIDER_TYPES,
  type IdentityLink,
  type IdentityProvider,
  type IdentityProviderChanges,
  type IdentityProviderInput,
  type RoutingPolicy,
  type RoutingPolicyChanges,
  type RoutingPolicyInput,
  UPSTREAM_CLIENT_AUTH_METHODS,
} from '../../../federation/types.ts';
import { testIdentityProvider } from '../../../federation/upstream.ts';
import type { Runtime } from '../../../runtime.ts';
import { type ApiAuthenticator, assertMayActOn, principalOf } from '../../plugins/api-auth.ts';
import { errorResponses, idParams, ref } from './schemas.ts';

const objectId = { type: 'string', pattern: '^[0-9a-f]{24}$' } as const;
const named = { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } } as const;
const stringList = (description: string) => ({ type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 253 }, description }) as const;
const nullableString = (description: string) => ({ anyOf: [{ type: 'string' }, { type: 'null' }], description }) as const;

/** An identity provider as the API shows it: never its client secret. */
export const identityProviderSchema = {
  $id: 'IdentityProvider',
  type: 'object',
  additionalProperties: false,
  required: [
    'id', 'name', 'type', 'enabled', 'url', 'issuer', 'allowed_tenants', 'verified_domains', 'home_realm_domains', 'client_id', 'has_client_secret',
    'client_auth', 'scopes', 'first_login', 'jit_groups', 'callback_url', 'created', 'updated',
  ],
  properties: {
    id: objectId,
    name: { type: 'string' },
    type: { type: 'string', enum: IDENTITY_PROVIDER_TYPES, description: 'entra: Microsoft Entra ID; oidc: any OpenID provider.' },
    enabled: { type: 'boolean', description: 'A disabled provider signs nobody in: its routing policies are passed over (the next policy that covers a person applies, else their Gatehouse password), and a sign-in already under way there is refused.' },
    url: nullableString('entra: https://login.microsoftonline.com/<tenant> as pasted (tenant id, verified domain, common or organizations); null for oidc.'),
    issuer: nullableString('oidc: the issuer; entra: the issuer derived from a url with a tenant id (null with a domain, common or organizations: learnt by discovery).'),
    allowed_tenants: { type: 'array', items: { type: 'string' }, description: 'entra with common or organizations: the tenant ids whose people may sign in.' },
    verified_domains: { type: 'array', items: { type: 'string' }, description: 'entra: email domains taken as verified even without the xms_edov claim.' },
    home_realm_domains: { type: 'array', items: { type: 'string' }, description: 'Domain rules: a typed email in one of these domains signs in at this provider, known to Gatehouse or not.' },
    client_id: { type: 'string' },
    has_client_secret: { type: 'boolean', description: 'The client secret is write-only: it is never returned.' },
    client_auth: { type: 'string', enum: UPSTREAM_CLIENT_AUTH_METHODS },
    scopes: { type: 'string', description: 'Space-separated; always includes openid.' },
    first_login: {
      type: 'string',
      enum: FIRST_LOGIN_MODES,
      description: 'link_existing: a first sign-in links to the one user with that (verified) email; create: the same, and creates the user when there is none.',
    },
    jit_groups: { type: 'array', items: { type: 'string' }, description: 'Ids of the groups users created on first sign-in are added to.' },
    callback_url: { type: 'string', description: 'The redirect URI to register at the provider.' },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

export const routingPolicySchema = {
  $id: 'RoutingPolicy',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'enabled', 'priority', 'identity_provider', 'user_groups', 'created', 'updated'],
  properties: {
    id: objectId,
    name: { type: 'string' },
    enabled: { type: 'boolean' },
    priority: { type: 'integer', description: 'The lowest number wins for a person in the groups of several policies.' },
    identity_provider: named,
    user_groups: { type: 'array', items: named },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

export const identityLinkSchema = {
  $id: 'IdentityLink',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'user_id', 'identity_provider', 'issuer', 'subject', 'email', 'created', 'last_used'],
  properties: {
    id: objectId,
    user_id: objectId,
    identity_provider: named,
    issuer: { type: 'string', description: 'entra: the tenant id (tid); oidc: the issuer (iss).' },
    subject: { type: 'string', description: 'entra: the object id (oid); oidc: the subject (sub).' },
    email: nullableString('The upstream email (or username) when the link was made.'),
    created: { type: 'string', format: 'date-time' },
    last_used: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
  },
} as const;

export const identityProviderTestResultSchema = {
  $id: 'IdentityProviderTestResult',
  type: 'object',
  additionalProperties: false,
  required: ['ok', 'discovery_url', 'issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'keys', 'callback_url', 'problems'],
  properties: {
    ok: { type: 'boolean' },
    discovery_url: { type: 'string' },
    issuer: nullableString('The issuer discovery returned.'),
    authorization_endpoint: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    token_endpoint: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    jwks_uri: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    keys: { type: 'integer', minimum: 0, description: 'Keys in the provider’s JWKS.' },
    callback_url: { type: 'string' },
    problems: { type: 'array', items: { type: 'string' }, description: 'What to fix, when not ok.' },
  },
} as const;

export const FEDERATION_SCHEMAS = [identityProviderSchema, routingPolicySchema, identityLinkSchema, identityProviderTestResultSchema] as const;

const providerWritable = {
  name: { type: 'string', minLength: 1, maxLength: 128, description: 'Unique, compared without regard to case.' },
  enabled: { type: 'boolean' },
  url: { type: 'string', minLength: 1, maxLength: 2048, description: 'entra only: https://login.microsoftonline.com/<tenant>.' },
  issuer: { type: 'string', minLength: 1, maxLength: 2048, description: 'oidc only: the issuer URL (discovery at <issuer>/.well-known/openid-configuration).' },
  allowed_tenants: stringList('entra with common or organizations (required then): tenant ids.'),
  verified_domains: stringList('entra: email domains taken as verified.'),
  home_realm_domains: stringList('Domain rules, e.g. contoso.com.'),
  client_id: { type: 'string', minLength: 1, maxLength: 255 },
  client_secret: { type: 'string', minLength: 1, maxLength: 1024, description: 'Write-only; stored encrypted.' },
  client_auth: { type: 'string', enum: UPSTREAM_CLIENT_AUTH_METHODS, description: 'Default client_secret_post for entra, client_secret_basic for oidc.' },
  scopes: { type: 'string', minLength: 1, maxLength: 1024, description: 'Default "openid email profile"; must include openid.' },
  first_login: { type: 'string', enum: FIRST_LOGIN_MODES, description: 'Default link_existing.' },
  jit_groups: stringList('Group ids or names users created on first sign-in are added to.'),
} as const;

const policyWritable = {
  name: { type: 'string', minLength: 1, maxLength: 128 },
  enabled: { type: 'boolean' },
  priority: { type: 'integer', minimum: 0, maximum: 1_000_000, description: 'Lowest wins; by default after every existing policy.' },
  identity_provider: { type: 'string', minLength: 1, maxLength: 200, description: 'Provider id or name.' },
  user_groups: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'Group ids or names.' },
} as const;

const linkParams = {
  type: 'object',
  required: ['id', 'linkId'],
  additionalProperties: false,
  properties: { id: idParams.properties.id, linkId: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/** Reading providers and policies needs the role that manages them, though not a read_write key. */
async function requireSettingsRole(request: FastifyRequest): Promise<void> {
  const { role } = principalOf(request);
  if (!roleAllows(role, 'settings')) throw new DomainError('auth.forbidden', 403, `The role ${role} does not allow this.`);
}

const providerTarget = (provider: IdentityProvider) => ({ type: 'identity_provider', id: provider.id, name: provider.name });
const policyTarget = (policy: RoutingPolicy) => ({ type: 'routing_policy', id: policy.id, name: policy.name });

export function registerFederationRoutes(app: FastifyInstance, directory: Directory, runtime: Runtime, auth: ApiAuthenticator): void {
  const callbackUrl = `${runtime.config.issuer}${FEDERATION_CALLBACK_PATH}`;
  const withCallback = (provider: IdentityProvider) => ({ ...provider, callback_url: callbackUrl });
  const readSettings = [auth.require('read'), requireSettingsRole];

  {
    const tags = ['Identity providers'];
    app.get(
      '/identity-providers',
      {
        preValidation: readSettings,
        schema: {
          tags,
          summary: 'List identity providers',
          description: 'By name. Only for administrators with billing.',
          response: {
            200: { type: 'object', additionalProperties: false, required: ['data', 'total'], properties: { data: { type: 'array', items: ref('IdentityProvider') }, total: { type: 'integer' } } },
            ...errorResponses,
          },
        },
      },
      async () => {
        const providers = await directory.identityProviders.list();
        return { data: providers.map(withCallback), total: providers.length };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/identity-providers/:id',
      { preValidation: readSettings, schema: { tags, summary: 'Get an identity provider', description: 'By id or name.', params: idParams, response: { 200: ref('IdentityProvider'), ...errorResponses } } },
      async (request) => withCallback(await directory.identityProviders.get(request.params.id)),
    );

    app.post<{ Body: IdentityProviderInput }>(
      '/identity-providers',
      {
        preValidation: auth.require('settings'),
        schema: {
          tags,
          summary: 'Add an identity provider',
          description:
            'entra needs url, oidc needs issuer; both need client_id and client_secret. Adding a provider changes nobody’s sign-in: a routing policy (or a domain rule) sends people to it. ' +
            'Register callback_url at the provider. Invalid fields are 400 identity_provider.invalid_<field>; a taken name 409 identity_provider.name_taken; a domain rule of another provider 409 identity_provider.domain_taken.',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'type', 'client_id', 'client_secret'],
            properties: { ...providerWritable, type: { type: 'string', enum: IDENTITY_PROVIDER_TYPES } },
          },
          response: { 201: ref('IdentityProvider'), ...errorResponses },
        },
      },
      async (request, reply) => {
        const provider = await directory.change(
          principalOf(request).actor,
          'identity_provider.create',
          (d) => d.identityProviders.create(request.body),
          (p) => ({ target: providerTarget(p), details: { type: p.type, fields: Object.keys(request.body) } }),
          { type: 'identity_provider', name: request.body.name },
        );
        return reply.status(201).send(withCallback(provider));
      },
    );

    app.patch<{ Params: { id: string }; Body: IdentityProviderChanges }>(
      '/identity-providers/:id',
      {
        preValidation: auth.require('settings'),
        schema: {
          tags,
          summary: 'Change an identity provider',
          description: 'Only the fields sent change; the type cannot. A client_secret sent replaces the stored one.',
          params: idParams,
          body: { type: 'object', additionalProperties: false, minProperties: 1, properties: providerWritable },
          response: { 200: ref('IdentityProvider'), ...errorResponses },
        },
      },
      async (request) =>
        withCallback(
          await directory.change(
            principalOf(request).actor,
            'identity_provider.update',
            (d) => d.identityProviders.update(request.params.id, request.body),
            (p) => ({ target: providerTarget(p), details: { fields: Object.keys(request.body) } }),
            { type: 'identity_provider', id: request.params.id },
          ),
        ),
    );

    app.delete<{ Params: { id: string } }>(
      '/identity-providers/:id',
      {
        preValidation: auth.require('settings'),
        schema: {
          tags,
          summary: 'Delete an identity provider',
          description: 'Its users’ links go with it. Refused (409 identity_provider.in_use) while a routing policy sends people to it.',
          params: idParams,
          response: { 204: { type: 'null' }, ...errorResponses },
        },
      },
      async (request, reply) => {
        await directory.change(principalOf(request).actor, 'identity_provider.delete', (d) => d.identityProviders.remove(request.params.id), (p) => ({ target: providerTarget(p) }), {
          type: 'identity_provider',
          id: request.params.id,
        });
        return reply.status(204).send();
      },
    );

    app.post<{ Params: { id: string } }>(
      '/identity-providers/:id/test',
      {
        preValidation: auth.require('settings'),
        schema: {
          tags,
          summary: 'Test an identity provider’s configuration',
          description: 'Fetches its discovery document and keys and checks them against the configuration; says what it found and what to fix. Changes nothing.',
          params: idParams,
          response: { 200: ref('IdentityProviderTestResult'), ...errorResponses },
        },
      },
      async (request) => {
        const config = await directory.identityProviders.upstream(request.params.id);
        return testIdentityProvider(config, { callbackUrl });
      },
    );
  }

  {
    const tags = ['Routing policies'];
    const list = { type: 'object', additionalProperties: false, required: ['data', 'total'], properties: { data: { type: 'array', items: ref('RoutingPolicy') }, total: { type: 'integer' } } } as const;
    app.get(
      '/routing-policies',
      {
        preValidation: readSettings,
        schema: { tags, summary: 'List routing policies', description: 'By priority (lowest first), then name. Only for administrators with billing.', response: { 200: list, ...errorResponses } },
      },
      async () => {
        const policies = await directory.routingPolicies.list();
        return { data: policies, total: policies.length };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/routing-policies/:id',
      { preValidation: readSettings, schema: { tags, summary: 'Get a routing policy', description: 'By id or name.', params: idParams, response: { 200: ref('RoutingPolicy'), ...errorResponses } } },
      async (request) => directory.routingPolicies.get(request.params.id),
    );

    app.post<{ Body: RoutingPolicyInput }>(
      '/routing-policies',
      {
        preValidation: auth.require('settings'),
        schema: {
          tags,
          summary: 'Add a routing policy',
          description:
            'The members of user_groups then sign in at identity_provider, and their Gatehouse password is no longer used. Invalid fields are 400 routing_policy.invalid_<field>; a taken name 409 routing_policy.name_taken.',
          body: { type: 'object', additionalProperties: false, required: ['name', 'identity_provider', 'user_groups'], properties: policyWritable },
          response: { 201: ref('RoutingPolicy'), ...errorResponses },
        },
      },
      async (request, reply) => {
        const policy = await directory.change(
          principalOf(request).actor,
          'routing_policy.create',
          (d) => d.routingPolicies.create(request.body),
          (p) => ({ target: policyTarget(p), details: { identity_provider: p.identity_provider.name, user_groups: p.user_groups.map((g) => g.name) } }),
          { type: 'routing_policy', name: request.body.name },
        );
        return reply.status(201).send(policy);
      },
    );

    app.patch<{ Params: { id: string }; Body: RoutingPolicyChanges }>(
      '/routing-policies/:id',
      {
        preValidation: auth.require('settings'),
        schema: {
          tags,
          summary: 'Change a routing policy',
          description: 'Only the fields sent change; user_groups sent replace the policy’s groups.',
          params: idParams,
          body: { type: 'object', additionalProperties: false, minProperties: 1, properties: policyWritable },
          response: { 200: ref('RoutingPolicy'), ...errorResponses },
        },
      },
      async (request) =>
        directory.change(
          principalOf(request).actor,
          'routing_policy.update',
          (d) => d.routingPolicies.update(request.params.id, request.body),
          (p) => ({ target: policyTarget(p), details: { fields: Object.keys(request.body) } }),
          { type: 'routing_policy', id: request.params.id },
        ),
    );

    app.delete<{ Params: { id: string } }>(
      '/routing-policies/:id',
      {
        preValidation: auth.require('settings'),
        schema: { tags, summary: 'Delete a routing policy', description: 'Its people sign in with their Gatehouse password again.', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } },
      },
      async (request, reply) => {
        await directory.change(principalOf(request).actor, 'routing_policy.delete', (d) => d.routingPolicies.remove(request.params.id), (p) => ({ target: policyTarget(p) }), {
          type: 'routing_policy',
          id: request.params.id,
        });
        return reply.status(204).send();
      },
    );
  }

  {
    const tags = ['Users'];
    app.get<{ Params: { id: string } }>(
      '/users/:id/identities',
      {
        preValidation: auth.require('read'),
        schema: {
          tags,
          summary: 'A user’s linked identities',
          description:
            'The upstream identities that sign this user in, and where they sign in: identity_provider is the provider a routing policy sends them to (null: their Gatehouse password), in which case their password is externally managed.',
          params: idParams,
          response: {
            200: {
              type: 'object',
              additionalProperties: false,
              required: ['data', 'externally_managed_password', 'identity_provider'],
              properties: {
                data: { type: 'array', items: ref('IdentityLink') },
                externally_managed_password: { type: 'boolean' },
                identity_provider: { anyOf: [named, { type: 'null' }] },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const user = await directory.users.get(request.params.id);
        const [links, route] = await Promise.all([directory.identityLinks.listForUser(user.id), directory.routingPolicies.routeFor(user.id)]);
        return { data: links, externally_managed_password: route !== undefined, identity_provider: route ? { id: route.id, name: route.name } : null };
      },
    );

    app.delete<{ Params: { id: string; linkId: string } }>(
      '/users/:id/identities/:linkId',
      {
        preValidation: auth.require('directory'),
        schema: {
          tags,
          summary: 'Unlink an identity from a user',
          description: 'The next sign-in with that identity is a first one again (matched by the provider’s first_login rule).',
          params: linkParams,
          response: { 204: { type: 'null' }, ...errorResponses },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        await assertMayActOn(directory, principal.role, request.params.id);
        const user = await directory.users.get(request.params.id);
        await directory.change(
          principal.actor,
          'federation.unlink',
          (d) => d.identityLinks.remove(user.id, request.params.linkId),
          (link: IdentityLink) => ({
            target: { type: 'user', id: user.id, name: user.username },
            details: { link_id: link.id, identity_provider: link.identity_provider.name, issuer: link.issuer, subject: link.subject },
          }),
          { type: 'user', id: user.id, name: user.username },
        );
        return reply.status(204).send();
      },
    );
  }
}
