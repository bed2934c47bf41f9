import type { Account, AccountClaims, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { AccessDecision, AccessResolver } from '../directory/access.ts';
import type { AttributeMapping } from '../directory/apps.ts';
import type { User } from '../directory/users.ts';

/** Claims an app configured for itself (attribute mapping, groups claim), carried beside the standard ones. */
export const APP_CLAIMS = Symbol('gatehouse.appClaims');

export type ClaimsWithApp = AccountClaims & { [APP_CLAIMS]?: Record<string, unknown> };

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
  return async (ctx: KoaContextWithOIDC, sub: string, token?: { clientId?: string | undefined }): Promise<Account | undefined> => {
    const clientId = token?.clientId ?? ctx.oidc?.client?.clientId;
    if (!clientId) return undefined;
    const decision = await access.decide(sub, clientId);
    if (!decision.user) return undefined;
    if (token && !decision.allowed) return undefined;
    const user = decision.user;
    return {
      accountId: user.id,
      claims: async () => {
        const claims: ClaimsWithApp = standardClaims(user);
        if (decision.allowed) claims[APP_CLAIMS] = appClaims(decision);
        return claims;
      },
    };
  };
}
