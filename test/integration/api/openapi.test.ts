/**
 * /api/openapi.json describes the API that is actually served, and /api/docs renders it.
 *
 * Which routes exist: Fastify has no public list of its routes, and a test cannot add an onRoute
 * hook to an app that buildApp() has already filled. But Fastify publishes every new instance on the
 * `fastify.initialization` diagnostics channel (documented in Fastify's Hooks reference, for
 * tracers) before anything is registered on it; subscribing there lets this file add an onRoute
 * hook to the real server that startGatehouse() starts, and so record every route as Fastify
 * registers it, with its final (prefixed) URL and its schema. No parsing of printRoutes() text, no
 * list to keep up to date: routes other engineers add are checked as soon as they exist.
 *
 * Then: every /api route (but the document itself and the docs pages) is in the document and vice
 * versa; every operation has a summary and documents its errors with the Error schema; and for every
 * GET route we can call (no path parameter, or an {id} we can find in its parent collection), the
 * 200 body validates against the documented schema (ajv, JSON Schema 2020-12 as in OpenAPI 3.1).
 */
import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';

interface Operation {
  summary?: string;
  parameters?: { in: string; name: string; required?: boolean; schema?: { enum?: unknown[]; items?: { enum?: unknown[] } } }[];
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}
type JsonSchema = Record<string, unknown>;
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes?: Record<string, unknown> };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Routes recorded from the server instances this file starts (see the comment at the top). */
let recording: RouteOptions[] | undefined;
const initialization = channel('fastify.initialization');
const record = (message: unknown) => {
  const routes = recording;
  if (!routes) return;
  const { fastify } = message as { fastify: FastifyInstance };
  fastify.addHook('onRoute', (route) => {
    routes.push(route);
  });
};
initialization.subscribe(record);

/** Starts a server and returns it with the routes Fastify registered on it. */
async function startRecorded(kind: Parameters<typeof startGatehouse>[0]): Promise<{ gatehouse: TestGatehouse; routes: RouteOptions[] }> {
  const routes: RouteOptions[] = [];
  recording = routes;
  try {
    return { gatehouse: await startGatehouse(kind), routes };
  } finally {
    recording = undefined;
  }
}

/** `METHOD /path/{param}` for each API route Fastify serves and the document should describe. */
function servedOperations(routes: RouteOptions[]): Set<string> {
  const operations = new Set<string>();
  for (const route of routes) {
    const url = route.url;
    if (!url.startsWith('/api/') || url === '/api/openapi.json' || url === '/api/docs' || url.startsWith('/api/docs/')) continue;
    for (const method of [route.method].flat()) {
      // HEAD is Fastify's automatic twin of each GET.
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      operations.add(`${method} ${url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return operations;
}

function documentedOperations(doc: OpenApiDocument): Set<string> {
  const operations = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item)) if (METHODS.includes(method)) operations.add(`${method.toUpperCase()} ${path}`);
  }
  return operations;
}

/** Follows a local `#/components/schemas/...` reference. */
function resolve(doc: OpenApiDocument, schema: JsonSchema | undefined): JsonSchema | undefined {
  const ref = schema?.$ref;
  if (typeof ref !== 'string') return schema;
  assert.match(ref, /^#\/components\/schemas\/[^/]+$/, `a local component reference: ${ref}`);
  return doc.components.schemas[ref.slice('#/components/schemas/'.length)];
}

/** Whether a schema is the API's Error schema: {code, message, details?}, nothing else. */
function isErrorSchema(schema: JsonSchema | undefined): boolean {
  if (schema?.type !== 'object') return false;
  const properties = Object.keys((schema.properties ?? {}) as object).sort();
  const required = [...((schema.required ?? []) as string[])].sort();
  return properties.join() === 'code,details,message' && required.join() === 'code,message' && schema.additionalProperties === false;
}

/** The list of items in a collection response, whatever the envelope: data (ours), results (JumpCloud), or a bare array. */
function itemsOf(body: unknown): { id?: unknown; _id?: unknown }[] {
  if (Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  for (const key of ['data', 'results']) if (Array.isArray(b?.[key])) return b[key] as { id?: unknown }[];
  return [];
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`OpenAPI document and reference (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let routes: RouteOptions[];
    let doc: OpenApiDocument;
    let key: string;
    /** The self-service routes (/api/me/...) answer a person's portal sign-in, not API keys. */
    let portalToken: string;

    before(async () => {
      ({ gatehouse, routes } = await startRecorded(kind));
      ({ key } = await adminKey(gatehouse, 'administrator_with_billing'));
      // Something in every collection, so that lists validate with items in them.
      const d = gatehouse.directory;
      const ada = await d.users.create({ username: 'ada', email: 'ada@example.com', password: 'a-good-long-password', firstname: 'Ada', attributes: { team: 'engines' } });
      const staff = await d.groups.create('staff', 'Everyone on staff');
      await d.groups.addMember(staff.id, ada.id);
      const { app } = await d.apps.create({ label: 'Wiki', redirect_uris: ['https://wiki.example.com/callback'], auth_method: 'client_secret_basic', refresh_token: false, scopes: ['email', 'profile'] });
      await d.apps.bind(app.id, staff.id);
      const entra = await d.identityProviders.create({
        name: 'Contoso Entra',
        type: 'entra',
        url: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47',
        client_id: 'contoso-client',
        client_secret: 'contoso-secret',
        home_realm_domains: ['contoso.com'],
        jit_groups: [staff.id],
      });
      await d.routingPolicies.create({ name: 'Staff to Entra', identity_provider: entra.id, user_groups: [staff.id] });
      // Staff sign in at Entra; a person outside it signs in to the portal with a password.
      const bea = await d.users.create({ username: 'bea', email: 'bea@example.com', password: 'a-good-long-password', state: 'ACTIVATED' });
      const ops = await d.groups.create('ops', 'Operations');
      await d.groups.addMember(ops.id, bea.id);
      await d.apps.bind(app.id, ops.id);
      ({ accessToken: portalToken } = await portalSignIn(gatehouse, 'bea', 'a-good-long-password'));
      await d.identityLinks.create({ user_id: ada.id, identity_provider_id: entra.id, issuer: '72f988bf-86f1-41af-91ab-2d7cd011db47', subject: 'ada-oid', email: ada.email });
      const response = await call(gatehouse, 'GET', '/api/openapi.json');
      assert.equal(response.status, 200, response.text);
      doc = response.body;
    });
    after(() => gatehouse?.close());

    test('is OpenAPI 3.1, served as JSON without a key, and names both ways to present one', async () => {
      const response = await call(gatehouse, 'GET', '/api/openapi.json');
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.ok(doc.openapi.startsWith('3.1'), `openapi ${doc.openapi}`);
      assert.equal(typeof doc.info.title, 'string');
      assert.equal(typeof doc.info.version, 'string');
      assert.deepEqual(Object.keys(doc.components.securitySchemes ?? {}).sort(), ['apiKeyHeader', 'bearer']);
    });

    test('the routes were recorded (the diagnostics channel reached the server’s Fastify instance)', () => {
      const operations = servedOperations(routes);
      for (const expected of ['GET /api/users', 'POST /api/users', 'GET /api/users/{id}', 'PUT /api/users/{id}/role']) {
        assert.ok(operations.has(expected), `${expected} among ${[...operations].join(', ')}`);
      }
      assert.ok(routes.some((r) => r.url === '/api/openapi.json'));
    });

    test('every route served under /api is documented, and nothing else is', () => {
      const served = servedOperations(routes);
      const documented = documentedOperations(doc);
      const undocumented = [...served].filter((op) => !documented.has(op));
      const phantom = [...documented].filter((op) => !served.has(op));
      assert.deepEqual(undocumented, [], 'served but missing from /api/openapi.json');
      assert.deepEqual(phantom, [], 'documented but not served');
      for (const path of Object.keys(doc.paths)) {
        assert.ok(path.startsWith('/api/'), `only the API is documented: ${path}`);
        assert.ok(!path.startsWith('/api/docs') && path !== '/api/openapi.json', `the docs themselves are not: ${path}`);
      }
    });

    test('every operation has a summary, its path parameters, and 4xx responses with the Error schema', () => {
      const problems: string[] = [];
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          if (!METHODS.includes(method)) continue;
          const label = `${method.toUpperCase()} ${path}`;
          if (typeof operation.summary !== 'string' || !operation.summary.trim()) problems.push(`${label}: no summary`);
          for (const name of path.match(/\{[^}]+\}/g) ?? []) {
            const documented = operation.parameters?.find((p) => p.in === 'path' && `{${p.name}}` === name);
            if (!documented?.required) problems.push(`${label}: path parameter ${name} not documented as required`);
          }
          const errors = Object.keys(operation.responses).filter((status) => /^4\d\d$/.test(status));
          if (errors.length === 0) problems.push(`${label}: no 4xx response`);
          // Every API route authenticates, so each one can answer 401.
          if (!errors.includes('401')) problems.push(`${label}: no 401 response`);
          for (const status of errors) {
            const schema = resolve(doc, operation.responses[status]?.content?.['application/json']?.schema);
            if (!isErrorSchema(schema)) problems.push(`${label}: ${status} is not the Error schema`);
          }
          const success = Object.keys(operation.responses).filter((status) => /^2\d\d$/.test(status));
          if (success.length === 0) problems.push(`${label}: no 2xx response`);
        }
      }
      assert.deepEqual(problems, []);
    });

    test('GET responses match their documented schemas', async (t) => {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats.default(ajv);
      const validate = (schema: JsonSchema, body: unknown) => {
        // The operation's schema with the document's components beside it, so that its
        // `#/components/schemas/...` references resolve.
        const check = ajv.compile({ ...schema, components: doc.components });
        return check(body) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
      };
      const bodies = new Map<string, unknown>();
      const checked: string[] = [];
      const skipped: string[] = [];
      // Collections before their members, so that an {id} can be taken from the parent's list.
      const paths = Object.keys(doc.paths).sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
      for (const path of paths) {
        const operation = doc.paths[path]?.get;
        if (!operation) continue;
        const schema = operation.responses['200']?.content?.['application/json']?.schema;
        if (!schema) {
          skipped.push(`${path} (no JSON 200)`);
          continue;
        }
        // A required query parameter gets the first value it allows, when the document lists them.
        const query = new URLSearchParams();
        for (const parameter of operation.parameters ?? []) {
          if (parameter.in !== 'query' || !parameter.required) continue;
          const values = (parameter.schema?.enum ?? parameter.schema?.items?.enum) as unknown[] | undefined;
          if (values?.[0] !== undefined) query.set(parameter.name, String(values[0]));
        }
        if (operation.parameters?.some((p) => p.in === 'query' && p.required && !query.has(p.name))) {
          skipped.push(`${path} (required query)`);
          continue;
        }
        let url = path;
        const params = path.match(/\{[^}]+\}/g) ?? [];
        if (params.length > 0) {
          // One parameter, at the end of a collection we listed: take its first item's id.
          const parent = path.slice(0, path.lastIndexOf('/{'));
          // A parent that has no list of its own (JumpCloud's /v2/users) borrows one of the same kind (/users).
          const kindOf = parent.slice(parent.lastIndexOf('/'));
          const list = bodies.get(parent) ?? [...bodies].find(([p]) => p.endsWith(kindOf))?.[1];
          const first = params.length === 1 && path.indexOf(params[0]!) === parent.length + 1 ? itemsOf(list)[0] : undefined;
          const id = first?.id ?? first?._id;
          if (typeof id !== 'string') {
            skipped.push(`${path} (no id to use)`);
            continue;
          }
          url = path.replace(params[0]!, encodeURIComponent(id));
        }
        if (query.size > 0) url += `?${query}`;
        const credential = path.startsWith('/api/me/') ? { key: portalToken, bearer: true } : { key };
        const response = await call(gatehouse, 'GET', url, undefined, credential);
        assert.equal(response.status, 200, `GET ${url}: ${response.text}`);
        bodies.set(path, response.body);
        assert.deepEqual(validate(schema, response.body), [], `GET ${url} matches the documented 200 schema`);
        checked.push(path);
      }
      t.diagnostic(`validated ${checked.length}: ${checked.join(', ')}`);
      if (skipped.length) t.diagnostic(`not called: ${skipped.join(', ')}`);
      for (const expected of ['/api/users', '/api/users/{id}', '/api/users/{id}/groups', '/api/identity-providers', '/api/identity-providers/{id}', '/api/routing-policies', '/api/routing-policies/{id}', '/api/users/{id}/identities']) assert.ok(checked.includes(expected), `${expected} was validated`);
      // The lists were not vacuous.
      assert.ok(itemsOf(bodies.get('/api/users')).length >= 2);
    });

    test('error bodies match the Error schema', async () => {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      const errorComponent = Object.values(doc.components.schemas).find((s) => isErrorSchema(s));
      assert.ok(errorComponent, 'the document has the Error schema');
      const check = ajv.compile(errorComponent);
      for (const [method, path, body, status] of [
        ['GET', '/api/users/nobody', undefined, 404],
        ['GET', '/api/users?limit=0', undefined, 400],
        ['POST', '/api/users', { username: 'x' }, 400],
        ['GET', '/api/nothing-here', undefined, 404],
      ] as const) {
        const response = await call(gatehouse, method, path, body, { key });
        assert.equal(response.status, status, response.text);
        assert.ok(check(response.body), `${method} ${path}: ${JSON.stringify(check.errors)}`);
      }
      const anonymous = await call(gatehouse, 'GET', '/api/users');
      assert.equal(anonymous.status, 401);
      assert.ok(check(anonymous.body), JSON.stringify(check.errors));
    });

    test('/api/docs is a readable HTML reference that loads this document', async () => {
      const page = await call(gatehouse, 'GET', '/api/docs');
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.text, /<html[\s>]/i);
      assert.match(page.text, /<title>[^<]+<\/title>/i);
      // Its script and stylesheet are served, and the page points at a copy of the same document.
      const assets = [...page.text.matchAll(/(?:href|src)="([^"]+\.(?:css|js))"/g)].map((m) => new URL(m[1]!, `${gatehouse.issuer}/api/docs/`).pathname);
      assert.ok(assets.length > 0, 'the page loads assets');
      for (const asset of assets) assert.equal((await call(gatehouse, 'GET', asset)).status, 200, asset);
      const initializer = assets.find((a) => /initializer/.test(a));
      if (initializer) {
        const script = (await call(gatehouse, 'GET', initializer)).text;
        // swagger-ui resolves the document's URL against the page's, as a directory: /api/docs/ + ./json.
        const specUrl = script.match(/\burl:\s*(?:resolveUrl\()?['"]([^'"]+)['"]/)?.[1];
        assert.ok(specUrl, `the initializer names the document: ${script.slice(0, 300)}`);
        const spec = await call(gatehouse, 'GET', new URL(specUrl, `${gatehouse.issuer}/api/docs/`).pathname);
        assert.equal(spec.status, 200);
        const served = typeof spec.body === 'string' ? JSON.parse(spec.body) : spec.body;
        assert.deepEqual(Object.keys(served.paths).sort(), Object.keys(doc.paths).sort(), 'the docs page shows the same API');
      }
    });
  });
}
