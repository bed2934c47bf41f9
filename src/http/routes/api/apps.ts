import type { FastifyInstance } from 'fastify';
import { type App, type AppIcon, type AppInput, AUTH_METHODS, MAX_DESCRIPTION_LENGTH, MAX_ICON_BYTES, MAX_REFRESH_TOKEN_REUSE_INTERVAL, MAX_REFRESH_TOKEN_TTL, OPTIONAL_SCOPES } from '../../../directory/apps.ts';
import { DomainError } from '../../../directory/errors.ts';
import type { DirectoryStores } from '../../../directory/index.ts';
import type { UserGroup } from '../../../directory/groups.ts';
import { type ApiAuthenticator, principalOf } from '../../plugins/api-auth.ts';
import type { ApiDependencies } from './index.ts';
import { errorResponses, idParams, pageOf, pageQueryProperties, ref } from './schemas.ts';

/** An app as the API shows it: no secret (only whether one is set), the icon as a link, and what to configure in the app. */
export type ApiApp = Omit<App, 'icon'> & { icon_url: string | null; issuer: string; discovery_url: string };

export function toApiApp(app: App, issuer: string): ApiApp {
  const { icon, ...rest } = app;
  return {
    ...rest,
    icon_url: icon ? `${issuer}/api/apps/${app.id}/icon` : null,
    issuer,
    discovery_url: `${issuer}/.well-known/openid-configuration`,
  };
}

const appTarget = (app: App) => ({ type: 'app', id: app.id, name: app.label });
const groupRef = (group: UserGroup) => ({ id: group.id, name: group.name });

const ICON_TYPES = ['image/png', 'image/svg+xml'] as const;
/** An SVG may carry script: served only as an image that can run nothing and load nothing. */
const ICON_CSP = "default-src 'none'; style-src 'unsafe-inline'";

/** Every setting of a custom OpenID Connect app; POST requires label and redirect_uris, PATCH any one. */
const appProperties = {
  label: { type: 'string', minLength: 1, maxLength: 128, description: 'Display label.' },
  description: { type: 'string', maxLength: MAX_DESCRIPTION_LENGTH, description: `Shown on the app’s tile in the user portal: at most ${MAX_DESCRIPTION_LENGTH} characters, no control characters (default empty).` },
  redirect_uris: {
    type: 'array',
    minItems: 1,
    maxItems: 100,
    items: { type: 'string', minLength: 1, maxLength: 2000 },
    description: 'Absolute URIs without a fragment (https, http, or a reverse-domain private scheme), matched exactly.',
  },
  post_logout_redirect_uris: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 2000 }, description: 'Where the app may send people after sign-out.' },
  login_url: { anyOf: [{ type: 'string', minLength: 1, maxLength: 2000 }, { type: 'null' }], description: 'Where the app’s own sign-in starts (for an app launcher).' },
  auth_method: { type: 'string', enum: AUTH_METHODS, description: 'Client authentication at the token endpoint (default client_secret_basic); none makes a public client without a secret.' },
  refresh_token: { type: 'boolean', description: 'Allow the refresh_token grant (default false).' },
  scopes: { type: 'array', maxItems: OPTIONAL_SCOPES.length, items: { type: 'string', enum: OPTIONAL_SCOPES }, description: 'Optional scopes the app may ask for; openid is always on.' },
  attribute_mapping: { type: 'array', maxItems: 100, items: ref('AttributeMapping') },
  groups_claim: { anyOf: [{ type: 'string', minLength: 1, maxLength: 256 }, { type: 'null' }], description: 'Claim listing the user’s groups bound to the app, or null for none.' },
  refresh_token_ttl: { type: 'integer', minimum: 60, maximum: MAX_REFRESH_TOKEN_TTL, description: 'Refresh-token lifetime in seconds (default 30 days).' },
  refresh_token_reuse_interval: {
    type: 'integer',
    minimum: 0,
    maximum: MAX_REFRESH_TOKEN_REUSE_INTERVAL,
    description:
      'Seconds (0-60, default 0) within which the refresh token just rotated may be presented again and gets the same new tokens back (two tabs, a retried request); 0 is strict: any reuse revokes the grant.',
  },
  show_in_portal: { type: 'boolean', description: 'Show the app’s tile in the user portal (it needs a Login URL to show). Default when created: true (the tile shows once the app has a Login URL).' },
  send_iss_on_launch: { type: 'boolean', description: 'Append iss=<issuer> to the Login URL when launched from the portal (OIDC Core §4 third-party-initiated login; default true).' },
} as const;

type AppBody = Omit<AppInput, 'icon'>;

const withSecret = {
  type: 'object',
  additionalProperties: false,
  required: ['app', 'client_secret'],
  properties: {
    app: ref('App'),
    client_secret: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Shown this once and never again (only its hash is kept); null for a public client.' },
  },
} as const;

const bindingParams = {
  type: 'object',
  required: ['id', 'groupId'],
  additionalProperties: false,
  properties: { id: idParams.properties.id, groupId: { type: 'string', minLength: 1, maxLength: 200, description: 'Group id or name.' } },
} as const;

const noContent = { 204: { type: 'null' }, ...errorResponses } as const;

export function registerAppRoutes(app: FastifyInstance, deps: ApiDependencies, auth: ApiAuthenticator): void {
  const { directory } = deps;
  const issuer = deps.runtime.config.issuer;
  const show = (a: App) => toApiApp(a, issuer);
  const tags = ['Apps'];

  /** Runs a change to one app, audited with the app as target; `attempted` is the reference given. */
  const changeApp = <T extends App | { app: App }>(request: Parameters<typeof principalOf>[0], action: string, work: (d: DirectoryStores) => Promise<T>, details?: (result: T) => Record<string, unknown>, attempted?: string) =>
    directory.change(principalOf(request).actor, action, work, (result) => ({ target: appTarget('app' in result ? result.app : result), details: details?.(result) }), {
      type: 'app',
      ...(attempted === undefined ? {} : { id: attempted }),
    });

  app.get<{ Querystring: { limit: number; offset: number; search?: string } }>(
    '/apps',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List apps',
        description: 'Ordered by label. `search` matches part of the label.',
        querystring: { type: 'object', additionalProperties: false, properties: { ...pageQueryProperties, search: { type: 'string', maxLength: 200, description: 'Part of the label, any case.' } } },
        response: { 200: pageOf(ref('App')), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, offset, search } = request.query;
      const { apps, total } = await directory.apps.page({ limit, offset, search });
      return { data: apps.map(show), total, limit, offset };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/apps/:id',
    { preValidation: auth.require('read'), schema: { tags, summary: 'Get an app', description: 'By id, client_id or label.', params: idParams, response: { 200: ref('App'), ...errorResponses } } },
    async (request) => show(await directory.apps.get(request.params.id)),
  );

  app.post<{ Body: AppBody }>(
    '/apps',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Register an OpenID Connect app',
        description:
          'Returns the app and, this once, its client secret (null for a public client). Nobody can sign in to the app until a group is bound to it. Set the icon with PUT /api/apps/{id}/icon.',
        body: { type: 'object', additionalProperties: false, required: ['label', 'redirect_uris'], properties: appProperties },
        response: { 201: withSecret, ...errorResponses },
      },
    },
    async (request, reply) => {
      const created = await directory.change(principalOf(request).actor, 'app.create', (d) => d.apps.create(request.body), ({ app: a }) => ({ target: appTarget(a), details: { auth_method: a.auth_method } }), {
        type: 'app',
        name: request.body.label,
      });
      return reply.status(201).send({ app: show(created.app), client_secret: created.clientSecret });
    },
  );

  app.patch<{ Params: { id: string }; Body: Partial<AppBody> }>(
    '/apps/:id',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Change an app',
        description:
          'Only the fields sent change; lists (redirect_uris, scopes, attribute_mapping…) are replaced whole. Switching to auth_method none drops the secret; switching back needs POST /api/apps/{id}/secret before the app works again.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: appProperties },
        response: { 200: ref('App'), ...errorResponses },
      },
    },
    async (request) => show(await changeApp(request, 'app.update', (d) => d.apps.update(request.params.id, request.body), () => ({ fields: Object.keys(request.body) }), request.params.id)),
  );

  app.delete<{ Params: { id: string } }>(
    '/apps/:id',
    { preValidation: auth.require('directory'), schema: { tags, summary: 'Delete an app', description: 'Its group bindings, grants and tokens go with it.', params: idParams, response: noContent } },
    async (request, reply) => {
      await changeApp(request, 'app.delete', (d) => d.apps.delete(request.params.id), undefined, request.params.id);
      return reply.status(204).send();
    },
  );

  // The icon upload takes a raw image body: its parsers (and larger body limit) stay in this scope.
  app.register(async (icons) => {
    icons.addContentTypeParser([...ICON_TYPES], { parseAs: 'buffer', bodyLimit: MAX_ICON_BYTES }, (_request, body, done) => done(null, body));

    icons.put<{ Params: { id: string }; Body: Buffer }>(
      '/apps/:id/icon',
      {
        preValidation: auth.require('directory'),
        bodyLimit: MAX_ICON_BYTES,
        schema: {
          tags,
          summary: 'Set an app’s icon',
          description: `The body is the image itself, sent as \`image/png\` or \`image/svg+xml\` (at most ${MAX_ICON_BYTES / 1024} KiB; larger is a 413, other types a 415, content that is not that image a 400).`,
          params: idParams,
          body: { content: Object.fromEntries(ICON_TYPES.map((type) => [type, { schema: { description: 'The image bytes.' } }])) },
          response: { 200: ref('App'), ...errorResponses },
        },
      },
      async (request) => {
        const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
        const body = request.body as unknown;
        if (!Buffer.isBuffer(body) || !ICON_TYPES.includes(mediaType as AppIcon['mediaType'])) {
          throw new DomainError('request.unsupported_media_type', 415, 'Send the image itself as the body, with Content-Type image/png or image/svg+xml.');
        }
        if (body.length === 0) throw new DomainError('app.invalid_icon', 400, 'The icon is empty.', [{ path: 'body', message: 'empty' }]);
        const icon: AppIcon = { mediaType: mediaType as AppIcon['mediaType'], base64: body.toString('base64') };
        return show(await changeApp(request, 'app.set_icon', (d) => d.apps.setIcon(request.params.id, icon), () => ({ media_type: icon.mediaType, bytes: body.length }), request.params.id));
      },
    );
  });

  app.delete<{ Params: { id: string } }>(
    '/apps/:id/icon',
    { preValidation: auth.require('directory'), schema: { tags, summary: 'Remove an app’s icon', description: '404 app.no_icon when it has none.', params: idParams, response: noContent } },
    async (request, reply) => {
      await changeApp(
        request,
        'app.remove_icon',
        async (d) => {
          const current = await d.apps.get(request.params.id);
          if (!current.icon) throw new DomainError('app.no_icon', 404, `"${current.label}" has no icon.`);
          return d.apps.setIcon(current.id, null);
        },
        undefined,
        request.params.id,
      );
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/apps/:id/icon',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'Get an app’s icon',
        description: 'The image, as image/png or image/svg+xml. 404 app.no_icon when the app has none.',
        params: idParams,
        response: {
          200: { description: 'The icon.', content: Object.fromEntries(ICON_TYPES.map((type) => [type, { schema: { type: 'string', format: 'binary' } }])) },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { icon, label } = await directory.apps.get(request.params.id);
      if (!icon) throw new DomainError('app.no_icon', 404, `"${label}" has no icon.`);
      return reply
        .type(icon.mediaType)
        .header('Content-Security-Policy', ICON_CSP)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Cache-Control', 'private, no-cache')
        .send(Buffer.from(icon.base64, 'base64'));
    },
  );

  app.post<{ Params: { id: string } }>(
    '/apps/:id/secret',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Regenerate an app’s client secret',
        description: 'Returns the new secret this once; the old one stops working at once. A public client (auth method none) has no secret: 409 app.public_client.',
        params: idParams,
        response: { 200: withSecret, ...errorResponses },
      },
    },
    async (request) => {
      const { app: regenerated, clientSecret } = await changeApp(request, 'app.regenerate_secret', (d) => d.apps.regenerateSecret(request.params.id), undefined, request.params.id);
      return { app: show(regenerated), client_secret: clientSecret };
    },
  );

  for (const [action, summary] of [
    ['activate', 'Activate an app'],
    ['deactivate', 'Deactivate an app (nobody can sign in to it or redeem its tokens until it is activated again)'],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/apps/:id/${action}`,
      { preValidation: auth.require('directory'), schema: { tags, summary, params: idParams, response: { 200: ref('App'), ...errorResponses } } },
      async (request) => show(await changeApp(request, `app.${action}`, (d) => d.apps[action](request.params.id), undefined, request.params.id)),
    );
  }

  app.get<{ Params: { id: string } }>(
    '/apps/:id/groups',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'The groups bound to an app',
        description: 'Their members may sign in to the app. Ordered by name.',
        params: idParams,
        response: { 200: { type: 'array', items: ref('UserGroup') }, ...errorResponses },
      },
    },
    async (request) => directory.groups.boundToApp((await directory.apps.get(request.params.id)).id),
  );

  /** Binding changes: audited on the app, naming the group. */
  const binding = (bind: boolean, appRef: string, groupRefText: string) => async (d: DirectoryStores) => {
    const [a, group] = await Promise.all([d.apps.get(appRef), d.groups.get(groupRefText)]);
    if (bind) await d.apps.bind(a.id, group.id);
    else await d.apps.unbind(a.id, group.id);
    return { app: a, group };
  };

  app.put<{ Params: { id: string; groupId: string } }>(
    '/apps/:id/groups/:groupId',
    {
      preValidation: auth.require('directory'),
      schema: { tags, summary: 'Bind a group to an app', description: 'Its members may then sign in to the app. Idempotent.', params: bindingParams, response: noContent },
    },
    async (request, reply) => {
      await changeApp(request, 'app.bind', binding(true, request.params.id, request.params.groupId), ({ group }) => ({ group: groupRef(group) }), request.params.id);
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: { id: string; groupId: string } }>(
    '/apps/:id/groups/:groupId',
    {
      preValidation: auth.require('directory'),
      schema: { tags, summary: 'Unbind a group from an app', description: '404 app.not_bound when the group is not bound to the app.', params: bindingParams, response: noContent },
    },
    async (request, reply) => {
      await changeApp(request, 'app.unbind', binding(false, request.params.id, request.params.groupId), ({ group }) => ({ group: groupRef(group) }), request.params.id);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/groups/:id/apps',
    {
      preValidation: auth.require('read'),
      schema: {
        tags: ['Groups'],
        summary: 'The apps a group is bound to',
        description: 'The group’s members may sign in to these apps. Ordered by label.',
        params: idParams,
        response: { 200: { type: 'array', items: ref('App') }, ...errorResponses },
      },
    },
    async (request) => (await directory.apps.boundToGroup(request.params.id)).map(show),
  );

  app.get<{ Params: { id: string } }>(
    '/users/:id/apps',
    {
      preValidation: auth.require('read'),
      schema: {
        tags: ['Users'],
        summary: 'The apps a user may sign in to',
        description: 'Apps bound to one of the user’s groups (All Users included), active or not. Ordered by label.',
        params: idParams,
        response: { 200: { type: 'array', items: ref('App') }, ...errorResponses },
      },
    },
    async (request) => (await directory.apps.appsOf((await directory.users.get(request.params.id)).id)).map(show),
  );
}
