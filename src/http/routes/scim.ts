import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Directory } from '../../directory/index.ts';
import type { Runtime } from '../../runtime.ts';
import type { ScimCaller, ScimContext } from '../../scim/common.ts';
import { keeps, listResponse, project } from '../../scim/common.ts';
import { ScimError, errorBody, invalidSyntax, invalidValue, toScimError } from '../../scim/errors.ts';
import { createScimGroups } from '../../scim/groups.ts';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SEARCH_REQUEST_SCHEMA, USER_SCHEMA, discovery } from '../../scim/schemas.ts';
import { createScimUsers } from '../../scim/users.ts';
import { createApiAuthenticator, principalOf } from '../plugins/api-auth.ts';
import { refuseUnusableText } from '../plugins/request-text.ts';

export const SCIM_PATH = '/scim/v2';
const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
/** A group's members travel in one request: larger than the API's 64 KiB. */
const BODY_LIMIT = 1024 * 1024;

interface Query {
  filter?: string;
  startIndex?: string;
  count?: string;
  attributes?: string;
  excludedAttributes?: string;
}

const send = (reply: FastifyReply, status: number, body: unknown) => reply.status(status).type(SCIM_CONTENT_TYPE).send(JSON.stringify(body));

/** One query parameter: a repeated one is refused rather than guessed at. */
function parameter(query: unknown, name: keyof Query): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidValue(`${name} is given once.`);
  return value;
}

function listQuery(request: FastifyRequest): Query {
  const query: Query = {};
  for (const name of ['filter', 'startIndex', 'count', 'attributes', 'excludedAttributes'] as const) {
    const value = parameter(request.query, name);
    if (value !== undefined) query[name] = value;
  }
  return query;
}

/** A POST …/.search body (RFC 7644 §3.4.3) as the query parameters of a GET. */
function searchQuery(body: unknown): Query {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('A search request is a SearchRequest message.');
  const record = body as Record<string, unknown>;
  const schemas = record.schemas;
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.includes(SEARCH_REQUEST_SCHEMA))) throw invalidSyntax(`A search request's schemas must include ${SEARCH_REQUEST_SCHEMA}.`);
  const query: Query = {};
  const list = (value: unknown, name: string) => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalidValue(`${name} is an array of attribute paths.`);
    return value.join(',');
  };
  if (record.filter !== undefined) {
    if (typeof record.filter !== 'string') throw invalidValue('filter is a string.');
    query.filter = record.filter;
  }
  for (const name of ['startIndex', 'count'] as const) {
    const value = record[name];
    if (value !== undefined) {
      if (typeof value !== 'number') throw invalidValue(`${name} is an integer.`);
      query[name] = String(value);
    }
  }
  const attributes = list(record.attributes, 'attributes');
  const excludedAttributes = list(record.excludedAttributes, 'excludedAttributes');
  if (attributes !== undefined) query.attributes = attributes;
  if (excludedAttributes !== undefined) query.excludedAttributes = excludedAttributes;
  return query;
}

function callerOf(request: FastifyRequest): ScimCaller {
  const principal = principalOf(request);
  return { actor: principal.actor, ownerId: principal.user.id, role: principal.role };
}

/**
 * SCIM 2.0 (RFC 7643/7644) under <issuer>/scim/v2, for provisioning clients such as Entra ID, Okta
 * and OneLogin: Users and Groups, backed by the directory. Authentication is an API key of scope
 * `scim` as a bearer token; the three discovery endpoints need none (they describe only the
 * service). Every answer, errors included, is application/scim+json.
 */
export async function registerScim(app: FastifyInstance, deps: { directory: Directory; runtime: Runtime }): Promise<void> {
  const base = `${deps.runtime.config.issuer.replace(/\/$/, '')}${SCIM_PATH}`;
  const context: ScimContext = { db: deps.runtime.storage.db, directory: deps.directory, secret: deps.runtime.secret, base };
  const users = createScimUsers(context);
  const groups = createScimGroups(context);
  const documents = discovery(base);
  // Only API keys: a console access token is not a provisioning credential.
  const auth = createApiAuthenticator(deps.directory);
  const authenticated = { onRequest: auth.requireScim() };

  await app.register(
    async (scim) => {
      scim.removeAllContentTypeParsers();
      scim.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
        // An empty body (a DELETE sent with a content type) is no body; a POST without one is refused later.
        if ((body as string).trim() === '') return done(null, undefined);
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(invalidSyntax('The body is not valid JSON.'), undefined);
        }
      });
      scim.addHook('onRequest', async (_request, reply) => {
        reply.header('Cache-Control', 'no-store');
      });
      refuseUnusableText(scim);
      scim.setErrorHandler((error: FastifyError | Error, request, reply) => {
        let scimError: ScimError;
        const status = (error as FastifyError).statusCode;
        if (!(error instanceof ScimError) && !(error instanceof Error && error.name === 'DomainError') && status && status >= 400 && status < 500) {
          // Fastify's own refusals: an unsupported content type (415), a body too large (413), a body that doesn't parse.
          scimError = new ScimError(status, error.message, status === 400 ? 'invalidSyntax' : undefined);
        } else {
          scimError = toScimError(error);
        }
        if (scimError.status >= 500) request.log.error({ err: error }, 'SCIM request failed');
        return send(reply, scimError.status, errorBody(scimError));
      });
      scim.setNotFoundHandler((request, reply) => send(reply, 404, errorBody(new ScimError(404, `No endpoint ${request.method} ${request.url.split('?')[0]}.`))));

      // Discovery (RFC 7644 §4).
      scim.get('/ServiceProviderConfig', async (_request, reply) => send(reply, 200, documents.serviceProviderConfig));
      scim.get('/ResourceTypes', async (_request, reply) => send(reply, 200, listResponse(documents.resourceTypes, documents.resourceTypes.length, 1)));
      scim.get<{ Params: { id: string } }>('/ResourceTypes/:id', async (request, reply) => {
        const found = documents.resourceTypes.find((r) => r.id === request.params.id);
        if (!found) throw new ScimError(404, `No resource type "${request.params.id}".`);
        return send(reply, 200, found);
      });
      scim.get('/Schemas', async (_request, reply) => send(reply, 200, listResponse(documents.schemas, documents.schemas.length, 1)));
      scim.get<{ Params: { id: string } }>('/Schemas/:id', async (request, reply) => {
        const found = documents.schemas.find((s) => s.id === request.params.id);
        if (!found) throw new ScimError(404, `No schema "${request.params.id}".`);
        return send(reply, 200, found);
      });

      // Not offered (RFC 7644 §3.7, §3.11, §3.4.3): 501, as the RFC asks of what a server does not support.
      for (const [method, path] of [
        ['POST', '/Bulk'],
        ['GET', '/Me'],
        ['POST', '/.search'],
      ] as const) {
        scim.route({ method, url: path, ...authenticated, handler: async () => Promise.reject(new ScimError(501, `${method} ${path} is not supported.`)) });
      }

      // Users (RFC 7644 §3).
      const userView = (resource: Record<string, unknown>, query: Query) => project(resource, query, USER_SCHEMA, [ENTERPRISE_USER_SCHEMA]);
      const listUsers = async (reply: FastifyReply, query: Query) => {
        const { resources, total, startIndex } = await users.list(query);
        return send(reply, 200, listResponse(resources.map((r) => userView(r, query)), total, startIndex));
      };
      scim.get('/Users', authenticated, async (request, reply) => listUsers(reply, listQuery(request)));
      scim.post('/Users/.search', authenticated, async (request, reply) => listUsers(reply, searchQuery(request.body)));
      scim.get<{ Params: { id: string } }>('/Users/:id', authenticated, async (request, reply) => send(reply, 200, userView(await users.get(request.params.id), listQuery(request))));
      scim.post('/Users', authenticated, async (request, reply) => {
        const created = await users.create(callerOf(request), request.body);
        reply.header('Location', (created.meta as { location: string }).location);
        return send(reply, 201, userView(created, listQuery(request)));
      });
      scim.put<{ Params: { id: string } }>('/Users/:id', authenticated, async (request, reply) =>
        send(reply, 200, userView(await users.replace(callerOf(request), request.params.id, request.body), listQuery(request))),
      );
      scim.patch<{ Params: { id: string } }>('/Users/:id', authenticated, async (request, reply) =>
        send(reply, 200, userView(await users.patch(callerOf(request), request.params.id, request.body), listQuery(request))),
      );
      scim.delete<{ Params: { id: string } }>('/Users/:id', authenticated, async (request, reply) => {
        await users.delete(callerOf(request), request.params.id);
        return reply.status(204).send();
      });

      // Groups: members are loaded only when the answer shows them (Entra asks excludedAttributes=members).
      const groupView = (resource: Record<string, unknown>, query: Query) => project(resource, query, GROUP_SCHEMA, []);
      const withMembers = (query: Query) => keeps(query, 'members', GROUP_SCHEMA);
      const listGroups = async (reply: FastifyReply, query: Query) => {
        const { resources, total, startIndex } = await groups.list(query, withMembers(query));
        return send(reply, 200, listResponse(resources.map((r) => groupView(r, query)), total, startIndex));
      };
      scim.get('/Groups', authenticated, async (request, reply) => listGroups(reply, listQuery(request)));
      scim.post('/Groups/.search', authenticated, async (request, reply) => listGroups(reply, searchQuery(request.body)));
      scim.get<{ Params: { id: string } }>('/Groups/:id', authenticated, async (request, reply) => {
        const query = listQuery(request);
        return send(reply, 200, groupView(await groups.get(request.params.id, withMembers(query)), query));
      });
      scim.post('/Groups', authenticated, async (request, reply) => {
        const created = await groups.create(callerOf(request), request.body);
        reply.header('Location', (created.meta as { location: string }).location);
        return send(reply, 201, groupView(created, listQuery(request)));
      });
      scim.put<{ Params: { id: string } }>('/Groups/:id', authenticated, async (request, reply) =>
        send(reply, 200, groupView(await groups.replace(callerOf(request), request.params.id, request.body), listQuery(request))),
      );
      // 204 as RFC 7644 §3.5.2 allows: a large group's members are not sent back after each change.
      scim.patch<{ Params: { id: string } }>('/Groups/:id', authenticated, async (request, reply) => {
        await groups.patch(callerOf(request), request.params.id, request.body);
        return reply.status(204).send();
      });
      scim.delete<{ Params: { id: string } }>('/Groups/:id', authenticated, async (request, reply) => {
        await groups.delete(callerOf(request), request.params.id);
        return reply.status(204).send();
      });
    },
    { prefix: SCIM_PATH },
  );
}
