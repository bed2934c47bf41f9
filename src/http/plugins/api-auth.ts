import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKey, ApiKeyScope } from '../../directory/api-keys.ts';
import type { Actor } from '../../directory/audit.ts';
import { DomainError } from '../../directory/errors.ts';
import type { Directory } from '../../directory/index.ts';
import { type Permission, type Role, roleAllows, roleCovers } from '../../directory/roles.ts';
import type { User } from '../../directory/users.ts';
import { createWindowLimiter } from './rate-limit.ts';

/** Who is calling the API, and with which powers: the owner's role, capped by the key's scope. */
export interface Principal {
  user: User;
  role: Role;
  scope: ApiKeyScope;
  apiKey: ApiKey;
  actor: Actor;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const can = (principal: Principal, permission: Permission): boolean =>
  roleAllows(principal.role, permission) && (permission === 'read' || principal.scope === 'read_write');

/** The principal a route handler runs for; the auth hook guarantees it on every /api route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new DomainError('auth.required', 401, 'Authenticate with an API key (x-api-key header or Authorization: Bearer).');
  return request.principal;
}

/**
 * Changing, suspending, unlocking or deleting an administrator is for those whose role covers
 * theirs: a help desk can't take over the account of the administrator above them.
 */
export async function assertMayActOn(directory: Directory, own: Role, ref: string): Promise<void> {
  const target = await directory.users.get(ref);
  if (target.role && !roleCovers(own, target.role)) {
    throw new DomainError('auth.forbidden', 403, `Your role (${own}) cannot change an administrator with the role ${target.role}.`);
  }
}

/** The credential presented: `x-api-key: KEY` (as JumpCloud) or `Authorization: Bearer KEY`. */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header) return header.trim();
  const authorization = request.headers.authorization;
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  return undefined;
}

export function createApiAuthenticator(directory: Directory) {
  // Guessing keys is hopeless (256 bits), but a flood of bad keys still costs look-ups: slow it down.
  const failures = createWindowLimiter({ limit: 30, windowMs: 60_000 });
  // Generous: a directory sync makes two requests per user.
  const requests = createWindowLimiter({ limit: 6000, windowMs: 60_000 });

  return {
    /** A preHandler: authenticates the caller and checks it holds `permission`. */
    require(permission: Permission) {
      return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        if (failures.exceeded(request.ip)) {
          reply.header('Retry-After', '60');
          throw new DomainError('request.rate_limited', 429, 'Too many failed authentications from this address. Try again in a minute.');
        }
        const presented = presentedKey(request);
        const principal = presented ? await directory.apiKeys.authenticate(presented) : undefined;
        if (!principal) {
          failures.hit(request.ip);
          reply.header('WWW-Authenticate', 'Bearer realm="gatehouse"');
          throw new DomainError('auth.invalid_credentials', 401, presented ? 'The API key is unknown, revoked or expired, or its owner can no longer use the API.' : 'Authenticate with an API key (x-api-key header or Authorization: Bearer).');
        }
        if (requests.exceeded(principal.key.id)) {
          reply.header('Retry-After', '60');
          throw new DomainError('request.rate_limited', 429, 'Too many requests with this API key. Try again in a minute.');
        }
        requests.hit(principal.key.id);
        request.principal = {
          user: principal.owner,
          role: principal.role,
          scope: principal.key.scope,
          apiKey: principal.key,
          actor: {
            type: 'api_key',
            id: principal.key.id,
            name: `${principal.owner.username}/${principal.key.name}`,
            ip: request.ip,
            userAgent: request.headers['user-agent'],
          },
        };
        if (!can(request.principal, permission)) {
          const reason = roleAllows(principal.role, permission) ? 'This API key is read-only.' : `The role ${principal.role} does not allow this.`;
          throw new DomainError('auth.forbidden', 403, reason);
        }
      };
    },
  };
}

export type ApiAuthenticator = ReturnType<typeof createApiAuthenticator>;
