import type { Account, AccountClaims, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { AccessDecision, AccessResolver } from '../directory/access.ts';
import type { AttributeMapping } from '../directory/apps.ts';
import type { User } from '../directory/users.ts';

/** Claims an app configured for itself (attribute mapping, groups claim), carried beside the standard ones. */
export const APP_CLAIMS = Symbol('gatehouse.appClaims');

export type ClaimsWithApp = AccountClaims & { [APP_CLAIMS]?: Record<string, unknown> };

/** The session field that names the identity provider of a federated sign-in (provider.ts keeps it). */
export const SESSION_IDP = 'gatehouse_idp';

interface SessionBoundToken {
  clientId?: string | undefined;
  amr?: string[] | undefined;
  acr?: string | undefined;
}

/**
 * The identity provider the session signed in at, for the ID token's `idp` claim: the grant of a
 * code or refresh token carries it (provider.ts copies it from the session), so the token endpoint
 * reads nothing more for it.
 */
function identityProviderOf(ctx: KoaContextWithOIDC): string | undefined {
  const grant = ctx.oidc?.entities?.Grant as unknown as Record<string, unknown> | undefined;
  const idp = grant?.[SESSION_IDP];
  return typeof idp === 'string' ? idp : undefined;
}

function standardClaims(user: User): AccountClaims {
  const name = user.displayname || [user.firstname, user.lastname].filter(Boolean).join(' ') || user.username;
  return {
    sub: user.id,
    name,
    given_name: user.firstname || undefined,
    family_name: user.lastname || undefined,
    preferred_username: user.username,
    updated_at: Math.floor(Date.parse(user.updated) / 1000),
    email: user.email,
    // Administrators enter these addresses; the organisation vouches for its own addresses.
    email_verified: true,
  };
}

function mappedValue(user: User, mapping: AttributeMapping): string | undefined {
  switch (mapping.source) {
    case 'field':
      return String(user[mapping.field]);
    case 'attribute':
      return user.attributes[mapping.attribute];
    case 'constant':
      return mapping.value;
  }
}

function appClaims(decision: Extract<AccessDecision, { allowed: true }>): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const mapping of JSON.parse(decision.app.attribute_map) as AttributeMapping[]) {
    const value = mappedValue(decision.user, mapping);
    if (value !== undefined) claims[mapping.claim] = value;
  }
  // Always an array, also for one group or none: JumpCloud's string-for-one-group breaks strict clients.
  if (decision.app.groups_claim) claims[decision.app.groups_claim] = decision.groups;
  return claims;
}

/**
 * The account for a (user, app) pair. Token-bound look-ups (token endpoint, userinfo) require access
 * to the app; at the authorization endpoint an existing user is enough, because the app_access
 * prompt explains a refusal to the person instead of failing silently.
 */
export function createFindAccount(access: AccessResolver): FindAccount {
  return async (ctx: KoaContextWithOIDC, sub: string, token?: SessionBoundToken): Promise<Account | undefined> => {
    const clientId = token?.clientId ?? ctx.oidc?.client?.clientId;
    if (!clientId) return undefined;
    const decision = await access.decide(sub, clientId);
    if (!decision.user) return undefined;
    if (token && !decision.allowed) return undefined;
    const user = decision.user;
    return {
      accountId: user.id,
      claims: async (use: string) => {
        const claims: ClaimsWithApp = standardClaims(user);
        if (decision.allowed) claims[APP_CLAIMS] = appClaims(decision);
        // The ID token says how the person authenticated (`amr`, RFC 8176, kept on the session and
        // the code: pwd, otp, mfa… or what the upstream said) and, after a federated sign-in, where
        // (`idp`, the provider's name); oidc-provider would otherwise leave `amr` out unless the app
        // asked for it by the claims parameter.
        if (use === 'id_token') {
          const idp = identityProviderOf(ctx);
          const amr = token?.amr?.length ? token.amr : undefined;
          // And `acr`, the class of that authentication (authn/policies.ts: single-factor or MFA).
          const acr = typeof token?.acr === 'string' ? token.acr : undefined;
          if (idp || amr || acr) claims[APP_CLAIMS] = { ...claims[APP_CLAIMS], ...(idp ? { idp } : {}), ...(amr ? { amr } : {}), ...(acr ? { acr } : {}) };
        }
        return claims;
      },
    };
  };
}
