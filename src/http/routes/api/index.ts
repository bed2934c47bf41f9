import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Directory } from '../../../directory/index.ts';
import type { Runtime } from '../../../runtime.ts';
import type { SessionService } from '../../../oidc/sessions.ts';
import { type BuiltinClientToken, createApiAuthenticator } from '../../plugins/api-auth.ts';
import { refuseUnusableText } from '../../plugins/request-text.ts';
import { SHARED_SCHEMAS } from './schemas.ts';
import { registerAppRoutes } from './apps.ts';
import { registerAuditRoutes } from './audit.ts';
import { FEDERATION_SCHEMAS, registerFederationRoutes } from './federation.ts';
import { registerGroupRoutes } from './groups.ts';
import { registerJumpCloudRoutes } from './jumpcloud.ts';
import { SELF_SERVICE_SCHEMAS, registerSelfServiceRoutes } from './me.ts';
import { FACTOR_SCHEMAS, registerFactorRoutes } from './me-factors.ts';
import { SELF_SESSION_SCHEMAS, recordSessionUse, registerSelfSessionRoutes } from './me-sessions.ts';
import { POLICY_SCHEMAS, registerPolicyRoutes } from './policies.ts';
import { registerSecurityRoutes } from './security.ts';
import { registerSettingsRoutes } from './settings.ts';
import { registerUserRoutes } from './users.ts';

export interface ApiDependencies {
  directory: Directory;
  runtime: Runtime;
  /** Resolves an admin console or user portal access token (see http/app.ts). */
  builtinClientToken?: (accessToken: string) => Promise<BuiltinClientToken | undefined>;
  /** The person's sessions and app grants (oidc/sessions.ts), for the self-service routes. */
  sessions?: SessionService;
}

/**
 * The directory REST API under /api: JSON with a schema on every route, documented at
 * /api/openapi.json (generated from those schemas) and readable at /api/docs.
 */
export async function registerApi(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse directory API',
        version: '1',
        description:
          'Manage users, groups, SSO applications, keys and settings. Authenticate with an API key: `x-api-key: KEY` or `Authorization: Bearer KEY` (the admin console sends its access token as a bearer token). Errors are `{ code, message, details? }`.',
      },
      servers: [{ url: deps.runtime.config.issuer }],
      components: {
        securitySchemes: {
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKeyHeader: [] }, { bearer: [] }],
    },
    // Shared schemas keep their $id as their component name (User, App, …), not def-N, so that the
    // types generated from the document (web/src/api-types.ts) have names to use.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // Everything under /api is documented (the JumpCloud-compatible routes too); pages and the protocol are not.
    transform: ({ schema, url, route }) => ({ schema: { ...schema, hide: schema?.hide || !url.startsWith('/api/') || url.startsWith('/api/docs') } as typeof schema, url, route }),
  });
  for (const schema of [...SHARED_SCHEMAS, ...FEDERATION_SCHEMAS, ...SELF_SESSION_SCHEMAS, ...SELF_SERVICE_SCHEMAS, ...FACTOR_SCHEMAS, ...POLICY_SCHEMAS]) app.addSchema(schema);

  const auth = createApiAuthenticator(deps.directory, deps.builtinClientToken ? { builtinClientToken: deps.builtinClientToken } : {});
  await app.register(
    async (api) => {
      // JSON only: a form or plain text is 415, not parsed into something the schemas might accept.
      api.removeContentTypeParser(['text/plain', 'application/x-www-form-urlencoded']);
      // Every route below, the JumpCloud-compatible ones included, and any added later.
      refuseUnusableText(api);
      if (deps.sessions) recordSessionUse(api, deps.sessions);
      registerUserRoutes(api, deps.directory, auth, deps.runtime.config.issuer);
      registerSelfServiceRoutes(api, deps.directory, auth, deps.runtime.config.issuer, deps.sessions);
      if (deps.sessions) registerSelfSessionRoutes(api, deps.directory, deps.sessions, auth);
      registerFactorRoutes(api, deps.directory, deps.runtime.factors, auth, deps.runtime.webauthn);
      registerGroupRoutes(api, deps.directory, auth);
      registerAppRoutes(api, deps, auth);
      registerSecurityRoutes(api, deps, auth);
      registerAuditRoutes(api, deps.directory, auth);
      registerSettingsRoutes(api, deps.directory, auth);
      registerFederationRoutes(api, deps.directory, deps.runtime, auth);
      registerPolicyRoutes(api, deps.directory, auth);
      registerJumpCloudRoutes(api, deps.directory, auth);
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api' },
  );
  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list' }, staticCSP: true });
}
