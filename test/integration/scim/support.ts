/**
 * A SCIM client for the tests: real HTTP to a running test Gatehouse, bodies as
 * application/scim+json (as Entra sends them), a bearer API key of scope scim.
 */
import assert from 'node:assert/strict';
import type { Role } from '../../../src/directory/roles.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export interface ScimResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: SCIM bodies of every shape
  body: any;
  text: string;
}

export interface ScimRequestOptions {
  key?: string | undefined;
  /** Content type of the body; default application/scim+json. */
  contentType?: string;
  /** A body sent as is. */
  raw?: string;
}

export async function scim(gatehouse: TestGatehouse, method: string, path: string, body?: unknown, options: ScimRequestOptions = {}): Promise<ScimResponse> {
  const headers = new Headers({ accept: 'application/scim+json' });
  if (options.key) headers.set('authorization', `Bearer ${options.key}`);
  let payload: string | undefined;
  if (options.raw !== undefined) payload = options.raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers.set('content-type', options.contentType ?? 'application/scim+json');
  const response = await fetch(`${gatehouse.issuer}/scim/v2${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
  const text = await response.text();
  let parsed: unknown = text;
  if (text && /json/.test(response.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed, text };
}

let counter = 0;

/** An administrator with `role` and an API key of scope scim. */
export async function scimKey(gatehouse: TestGatehouse, role: Role = 'manager') {
  counter += 1;
  const username = `scim-owner-${counter}-${Date.now().toString(36)}`;
  const user = await gatehouse.directory.users.create({ username, email: `${username}@admins.example.com`, role });
  const { apiKey, key } = await gatehouse.directory.apiKeys.create({ owner: user.id, name: 'entra provisioning', scope: 'scim' });
  return { user, apiKey, key, actorName: `${user.username}/${apiKey.name}` };
}

/** A SCIM error response: the status, the error schema, status as a string, scimType when given; never a 500. */
export function assertScimError(response: ScimResponse, status: number, scimType?: string): void {
  assert.equal(response.status, status, response.text);
  assert.match(response.headers.get('content-type') ?? '', /^application\/scim\+json/);
  assert.deepEqual(response.body.schemas, [ERROR]);
  assert.equal(response.body.status, String(status));
  if (scimType) assert.equal(response.body.scimType, scimType, response.text);
  assert.equal(typeof response.body.detail, 'string');
}

export function assertScimJson(response: ScimResponse, status: number): void {
  assert.equal(response.status, status, response.text);
  assert.match(response.headers.get('content-type') ?? '', /^application\/scim\+json/);
}

export const filterQuery = (filter: string, more = '') => `filter=${encodeURIComponent(filter)}${more ? `&${more}` : ''}`;
