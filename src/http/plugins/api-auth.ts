import type { FastifyReply, FastifyRequest } from 'fastify';
import { API_KEY_PREFIX, type ApiKey, type ApiKeyScope } from '../../directory/api-keys.ts';
import type { Actor } from '../../directory/audit.ts';
import { CONSOLE_CLIENT_ID } from '../../directory/console-app.ts';
import { DomainError } from '../../directory/errors.ts';
import type { Directory } from '../../directory/index.ts';
import { type Permission, type Role, roleAllows, roleCovers } from '../../directory/roles.ts';
import type { User } from '../../directory/users.ts';
import { createWindowLimiter } from './rate-limit.ts';

/**
 * Who is calling the API, and with which powers: the owner's role, capped by the key's scope. The
 * admin console calls with the person's own access token (no API key): their role, uncapped.
 */
export interface Principal {
  user: User;
  role: Role;
  scope: ApiKeyScope;
  apiKey: ApiKey | null;
  actor: Actor;
}

/**
 * A person calling the self-service API (/api/me/...) with a sign-in of their own: the user portal's
 * or the admin console's access token, never an API key. Acts as themselves, whatever their role.
 */
export interface SelfPrincipal {
  user: User;
  actor: Actor;
  /** The built-in client the token was issued to. */
  clientId: string;
  grantId: string;
  /** The Gatehouse session the token was issued in (oidc-provider's session uid). */
  sessionUid: string | undefined;
}

/** What an access token of the console or the portal stands for (http/app.ts looks it up). */
export interface BuiltinClientToken {
  accountId: string;
  clientId: string;
  grantId: string;
  sessionUid: string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    self?: SelfPrincipal;
  }
}

export const can = (principal: Principal, permission: Permission): boolean =>
  roleAllows(principal.role, permission) && (permission === 'read' || principal.scope === 'read_write');

/** The principal a route handler runs for; the auth hook guarantees it on every /api route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new DomainError('auth.required', 401, 'Authenticate with an API key (x-api-key header or Authorization: Bearer).');
  return request.principal;
}

/** The person a self-service route runs for; requireSelf guarantees it. */
export function selfOf(request: FastifyRequest): SelfPrincipal {
  if (!request.self) throw new DomainError('auth.required', 401, 'Sign in to use the self-service API.');
  return request.self;
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

/**
 * The credential presented: `x-api-key: KEY` (as JumpCloud) or `Authorization: Bearer KEY`; a
 * bearer credential that is not an API key may be an admin console access token.
 */
function presentedCredential(request: FastifyRequest): { value: string; bearer: boolean } | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header) return { value: header.trim(), bearer: false };
  const authorization = request.headers.authorization;
  if (authorization?.toLowerCase().startsWith('bearer ')) return { value: authorization.slice(7).trim(), bearer: true };
  return undefined;
}

export interface ApiAuthenticatorOptions {
  /** What a console or portal access token stands for, or undefined when it is not one (or no longer valid). */
  builtinClientToken?: (accessToken: string) => Promise<BuiltinClientToken | undefined>;
}

export function createApiAuthenticator(directory: Directory, options: ApiAuthenticatorOptions = {}) {
  // Guessing keys is hopeless (256 bits), but a flood of bad credentials from an address is told to
  // back off with 429. Only the failures are refused: a valid key is served whatever else came from
  // its address (a NAT, a proxy), so no one there can shut the API or the console out.
  const failures = createWindowLimiter({ limit: 30, windowMs: 60_000 });
  // Generous: a directory sync makes two requests per user.
  const requests = createWindowLimiter({ limit: 6000, windowMs: 60_000 });

  async function authenticate(request: FastifyRequest, presented: { value: string; bearer: boolean }): Promise<Principal | undefined> {
    const userAgent = request.headers['user-agent'];
    // API keys carry a prefix; anything else sent as a bearer credential may be a console access token.
    if (!presented.bearer || presented.value.startsWith(API_KEY_PREFIX)) {
      const byKey = await directory.apiKeys.authenticate(presented.value);
      if (byKey) {
        const { owner, key, role } = byKey;
        return { user: owner, role, scope: key.scope, apiKey: key, actor: { type: 'api_key', id: key.id, name: `${owner.username}/${key.name}`, ip: request.ip, userAgent } };
      }
      if (!presented.bearer) return undefined;
    }
    // Only the console's tokens: a user portal token reaches the self-service routes alone (requireSelf), whatever its holder's role.
    const token = await options.builtinClientToken?.(presented.value);
    const user = token?.clientId === CONSOLE_CLIENT_ID ? await directory.users.byId(token.accountId) : undefined;
    // The token's grant was checked against the directory (active, unlocked, a role) just now.
    if (!user?.role) return undefined;
    return { user, role: user.role, scope: 'read_write', apiKey: null, actor: { type: 'user', id: user.id, name: user.username, ip: request.ip, userAgent } };
  }

  function refuse(request: FastifyRequest, reply: FastifyReply, presented: boolean): never {
    if (failures.exceeded(request.ip)) {
      reply.header('Retry-After', '60');
      throw new DomainError('request.rate_limited', 429, 'Too many failed authentications from this address. Try again in a minute.');
    }
    failures.hit(request.ip);
    reply.header('WWW-Authenticate', 'Bearer realm="gatehouse"');
    throw new DomainError(
      'auth.invalid_credentials',
      401,
      presented
        ? 'The API key or access token is unknown, revoked or expired, or its owner can no longer use the API.'
        : 'Authenticate with an API key (x-api-key header or Authorization: Bearer).',
    );
  }

  function limit(reply: FastifyReply, bucket: string, what: string): void {
    if (requests.exceeded(bucket)) {
      reply.header('Retry-After', '60');
      throw new DomainError('request.rate_limited', 429, `Too many requests with this ${what}. Try again in a minute.`);
    }
    requests.hit(bucket);
  }

  return {
    /**
     * A preValidation hook for the self-service routes: the caller is a person signed in to the
     * portal (or the console), acting as themselves. API keys are for automation and are refused:
     * self-service changes (a password, a session) belong to the person at the keyboard.
     */
    requireSelf() {
      return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        const presented = presentedCredential(request);
        if (presented && (!presented.bearer || presented.value.startsWith(API_KEY_PREFIX))) {
          if (await directory.apiKeys.authenticate(presented.value)) {
            throw new DomainError('auth.self_service_needs_sign_in', 403, 'The self-service API answers people signed in to the user portal, not API keys.');
          }
          return refuse(request, reply, true);
        }
        const token = presented ? await options.builtinClientToken?.(presented.value) : undefined;
        const user = token ? await directory.users.byId(token.accountId) : undefined;
        if (!token || !user) return refuse(request, reply, Boolean(presented));
        limit(reply, `user:${user.id}`, 'session');
        const actor: Actor = { type: 'user', id: user.id, name: user.username, ip: request.ip, userAgent: request.headers['user-agent'] };
        request.self = { user, actor, clientId: token.clientId, grantId: token.grantId, sessionUid: token.sessionUid };
      };
    },
    /** A preHandler: authenticates the caller and checks it holds `permission`. */
    require(permission: Permission) {
      return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        const presented = presentedCredential(request);
        const principal = presented ? await authenticate(request, presented) : undefined;
        if (!principal) return refuse(request, reply, Boolean(presented));
        limit(reply, principal.apiKey?.id ?? `user:${principal.user.id}`, principal.apiKey ? 'API key' : 'session');
        if (principal.scope === 'scim') throw new DomainError('auth.forbidden', 403, 'This API key is for SCIM provisioning (/scim/v2) only.');
        request.principal = principal;
        if (!can(principal, permission)) {
          const reason = roleAllows(principal.role, permission) ? 'This API key is read-only.' : `The role ${principal.role} does not allow this.`;
          throw new DomainError('auth.forbidden', 403, reason);
        }
      };
    },
    /**
     * A preHandler for /scim/v2: only an API key of scope `scim` (never an ordinary key or a console
     * session), whose owner may still create and change users and groups.
     */
    requireScim() {
      return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        const presented = presentedCredential(request);
        const principal = presented ? await authenticate(request, presented) : undefined;
        if (!principal) return refuse(request, reply, Boolean(presented));
        limit(reply, principal.apiKey?.id ?? `user:${principal.user.id}`, principal.apiKey ? 'API key' : 'session');
        if (principal.scope !== 'scim') throw new DomainError('auth.forbidden', 403, 'Only an API key of scope scim may provision over SCIM.');
        if (!roleAllows(principal.role, 'directory')) throw new DomainError('auth.forbidden', 403, `The role ${principal.role} of the key's owner does not allow changing users and groups.`);
        request.principal = principal;
      };
    },
  };
}

export type ApiAuthenticator = ReturnType<typeof createApiAuthenticator>;
