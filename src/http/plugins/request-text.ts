import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../directory/errors.ts';

/** No id, name or email holds a control character (users.ts refuses them in names too). */
const CONTROL = /\p{Cc}/u;
/** PostgreSQL refuses a NUL in text outright (even to compare it), and no text anyone sends needs one. */
const NUL = '\u0000';

interface Refusal {
  path: string;
  message: string;
}

/** The first string in a parsed query or JSON body that holds a NUL, by its path. */
function findNul(value: unknown, path: string, depth = 0): Refusal | undefined {
  if (typeof value === 'string') return value.includes(NUL) ? { path, message: 'must not contain a NUL character' } : undefined;
  if (depth > 32 || value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes(NUL)) return { path, message: 'must not contain a NUL character' };
    const found = findNul(item, Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function refusal(request: FastifyRequest): Refusal | undefined {
  for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string' && CONTROL.test(value)) return { path: `params.${name}`, message: 'must not contain control characters' };
  }
  return findNul(request.query, 'querystring') ?? findNul(request.body, '');
}

/**
 * Text from the request is checked once, at the edge, for every route of the scope: a path
 * parameter (an id or a name) with a control character can match nothing, and a NUL anywhere would
 * make PostgreSQL fail the query. Both are refused as the schemas refuse a malformed value:
 * 400 `request.invalid`, naming the field. Runs after authentication, so an anonymous caller still
 * gets 401 first, and before any handler reaches the database.
 */
export function refuseUnusableText(scope: FastifyInstance): void {
  scope.addHook('preHandler', async (request) => {
    const found = refusal(request);
    if (found) throw new DomainError('request.invalid', 400, `${found.path || 'body'} ${found.message}.`, [found]);
  });
}
