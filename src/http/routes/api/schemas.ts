// Brings @fastify/swagger's additions to route schemas (tags, summary) into scope.
import type {} from '@fastify/swagger';
/**
 * JSON Schemas shared by the API routes. They validate requests (unknown fields are refused, never
 * dropped), shape responses, and are what /api/openapi.json is generated from.
 */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', description: 'Stable dotted code, e.g. user.not_found' },
    message: { type: 'string' },
    details: {
      type: 'array',
      items: { type: 'object', required: ['path', 'message'], additionalProperties: false, properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const;

export const ROLE_VALUES = ['administrator_with_billing', 'administrator', 'manager', 'help_desk', 'read_only'] as const;

export const userSchema = {
  $id: 'User',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state', 'account_locked', 'has_password', 'attributes', 'role', 'created', 'updated'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    username: { type: 'string' },
    email: { type: 'string' },
    firstname: { type: 'string' },
    lastname: { type: 'string' },
    displayname: { type: 'string' },
    state: { type: 'string', enum: ['STAGED', 'ACTIVATED', 'SUSPENDED'] },
    account_locked: { type: 'boolean' },
    has_password: { type: 'boolean' },
    attributes: { type: 'object', additionalProperties: { type: 'string' } },
    role: { anyOf: [{ type: 'string', enum: ROLE_VALUES }, { type: 'null' }] },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

export const groupSchema = {
  $id: 'UserGroup',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'description', 'builtin', 'created', 'updated'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    name: { type: 'string' },
    description: { type: 'string' },
    builtin: { type: 'boolean', description: 'The built-in All Users group: contains every user, cannot be changed or deleted.' },
    created: { type: 'string', format: 'date-time' },
    updated: { type: 'string', format: 'date-time' },
  },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/** `limit` (1-1000, default 100) and `offset`; lists are in a stable order. */
export const pageQueryProperties = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, default: 0 },
} as const;

export function pageOf<S extends object>(itemRef: S) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'total', 'limit', 'offset'],
    properties: {
      data: { type: 'array', items: itemRef },
      total: { type: 'integer', minimum: 0 },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
    },
  } as const;
}

export const ref = (id: string) => ({ $ref: `${id}#` }) as const;

/** Error responses every authenticated route may give, by status. */
export const errorResponses = {
  400: ref('Error'),
  401: ref('Error'),
  403: ref('Error'),
  404: ref('Error'),
  409: ref('Error'),
  413: ref('Error'),
  415: ref('Error'),
  429: ref('Error'),
} as const;

export const SHARED_SCHEMAS = [errorSchema, userSchema, groupSchema] as const;
