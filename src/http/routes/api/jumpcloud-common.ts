import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../../directory/errors.ts';
import type { Permission } from '../../../directory/roles.ts';
import type { ApiAuthenticator } from '../../plugins/api-auth.ts';

/**
 * Helpers shared by the JumpCloud-compatible routes: a thin translation of JumpCloud's request and
 * response shapes onto the same directory code the native API uses.
 */
export const tags = ['JumpCloud-compatible'];

/** Multi-tenant JumpCloud admins send x-org-id; Gatehouse has one organisation, so it is ignored. */
export const orgHeaders = {
  type: 'object',
  properties: { 'x-org-id': { type: 'string', description: 'Accepted for JumpCloud clients and ignored (Gatehouse has one organisation).' } },
} as const;

export function badQuery(path: string, message: string): DomainError {
  return new DomainError('request.invalid', 400, message, [{ path, message }]);
}

/** JumpCloud lists are space- or comma-separated depending on the endpoint: accept both. */
export const splitList = (value: string | undefined): string[] => value?.split(/[\s,]+/).filter(Boolean) ?? [];

/** Keeps the requested fields (ids always); with none requested, everything. */
export function project<T extends object>(record: T, fields: readonly string[], always: readonly string[]): Partial<T> {
  if (fields.length === 0) return record;
  const wanted = new Set([...fields, ...always]);
  return Object.fromEntries(Object.entries(record).filter(([key]) => wanted.has(key))) as Partial<T>;
}

/** `limit` (default 10, as JumpCloud) and `skip`. */
export const pageQuery = (maximum: number) =>
  ({
    limit: { type: 'integer', minimum: 1, maximum, default: 10, description: `Records per page (default 10, at most ${maximum}).` },
    skip: { type: 'integer', minimum: 0, maximum: 2_147_483_647, default: 0, description: 'Records to skip.' },
  }) as const;

/** A graph connection as JumpCloud's v2 API lists them: `{ to: { id, type }, attributes: null }`. */
export const connectionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['to', 'attributes'],
  properties: {
    to: { type: 'object', additionalProperties: false, required: ['id', 'type'], properties: { id: { type: 'string' }, type: { type: 'string' } } },
    attributes: { type: 'null' },
  },
} as const;

export const connection = (id: string, type: string) => ({ to: { id, type }, attributes: null });

/** A preValidation hook needing `helpdesk` when the body touches only `helpdeskFields`, else `directory`. */
export function requireByBody(auth: ApiAuthenticator, helpdeskFields: ReadonlySet<string>) {
  const handlers: Record<Extract<Permission, 'helpdesk' | 'directory'>, ReturnType<ApiAuthenticator['require']>> = {
    helpdesk: auth.require('helpdesk'),
    directory: auth.require('directory'),
  };
  return (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const keys = Object.keys((request.body as object | null) ?? {});
    return handlers[keys.length > 0 && keys.every((key) => helpdeskFields.has(key)) ? 'helpdesk' : 'directory'](request, reply);
  };
}

/**
 * 400 for a NUL character anywhere in the path parameters, query or body: no stored text holds one,
 * and PostgreSQL refuses to compare text with one (a 500 otherwise). Walks iteratively, since a body
 * may nest deeply.
 */
export async function refuseNul(request: FastifyRequest): Promise<void> {
  const pending: [unknown, string][] = [
    [request.params, 'params'],
    [request.query, 'querystring'],
    [request.body, 'body'],
  ];
  while (pending.length > 0) {
    const [value, path] = pending.pop() as [unknown, string];
    if (typeof value === 'string') {
      if (value.includes('\u0000')) throw badQuery(path, 'Text may not contain NUL characters.');
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes('\u0000')) throw badQuery(path, 'Names may not contain NUL characters.');
        pending.push([item, `${path}.${key}`]);
      }
    }
  }
}

/** JumpCloud's `{ op: add|remove, type, id }` body for membership and association changes. */
export function opBody<T extends string>(type: T) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['op', 'type', 'id'],
    properties: {
      op: { type: 'string', enum: ['add', 'remove'] },
      type: { type: 'string', enum: [type] },
      id: { type: 'string', minLength: 1, maxLength: 200 },
      attributes: { anyOf: [{ type: 'null' }, { type: 'object', maxProperties: 0 }], description: 'Accepted empty only.' },
    },
  } as const;
}
