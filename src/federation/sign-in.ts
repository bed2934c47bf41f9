/**
 * Who a validated upstream identity is in the directory. A stored link is the only thing a returning
 * identity matches on; the email is used once, for the first sign-in, and only when it is verified
 * (the nOAuth trap: Entra's `email` is not verified and, in some tenants, chosen by its user).
 */
import type { Actor } from '../directory/audit.ts';
import { DomainError } from '../directory/errors.ts';
import type { Directory } from '../directory/index.ts';
import type { User } from '../directory/users.ts';
import type { FederationFailureReason, IdentityProvider } from './types.ts';
import type { UpstreamIdentity } from './upstream.ts';

export type MatchResult =
  | { ok: true; user: User; via: 'link' | 'link_existing' | 'create' }
  | { ok: false; reason: FederationFailureReason; message: string; user?: User | undefined };

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** The user state that refuses a sign-in, as the audit log's reason. */
export function stateRefusal(user: User): Extract<FederationFailureReason, 'suspended' | 'locked' | 'staged'> | undefined {
  if (user.state === 'SUSPENDED') return 'suspended';
  if (user.state === 'STAGED') return 'staged';
  if (user.account_locked) return 'locked';
  return undefined;
}

const noAccount = (what: string) => `There is no Gatehouse account for ${what}. Ask your administrator to add you.`;

/**
 * Finds (or, with first_login: create, provisions) the user for an identity. `canUse` is asked before
 * an existing account is linked, so that a refused sign-in leaves no link behind. Links, and a created
 * user with its groups and link, are written with their audit events in one transaction.
 */
export async function matchIdentity(
  directory: Directory,
  provider: IdentityProvider,
  identity: UpstreamIdentity,
  actor: Actor,
  canUse: (user: User) => Promise<MatchResult | undefined>,
): Promise<MatchResult> {
  const linked = await directory.identityLinks.find(provider.id, identity.linkIssuer, identity.linkSubject);
  if (linked) {
    const user = await directory.users.byId(linked.user_id);
    if (!user) return { ok: false, reason: 'no_match', message: noAccount(identity.email ?? identity.preferredUsername ?? 'this account') };
    const refused = await canUse(user);
    if (refused) return refused;
    await directory.identityLinks.touch(linked.id).catch(() => undefined);
    return { ok: true, user, via: 'link' };
  }

  const shown = identity.email ?? identity.preferredUsername ?? 'this account';
  if (!identity.email) return { ok: false, reason: 'no_match', message: `${provider.name} did not send an email address for ${shown}, so it can't be matched to a Gatehouse account. Ask your administrator.` };
  if (!identity.emailVerified) {
    // An unverified address is never trusted for matching (or creating), whether or not an account has it.
    return { ok: false, reason: 'unverified_email', message: `${provider.name} did not confirm that ${identity.email} belongs to you, so it can't be matched to a Gatehouse account. Ask your administrator.` };
  }
  const matches = await directory.users.usersByEmail(identity.email);
  if (matches.length > 1) {
    return { ok: false, reason: 'several_matches', message: `Several Gatehouse accounts have the email ${identity.email}, so none was chosen. Ask your administrator.` };
  }
  const existing = matches[0];
  const linkInput = (userId: string) => ({ user_id: userId, identity_provider_id: provider.id, issuer: identity.linkIssuer, subject: identity.linkSubject, email: identity.email ?? null });
  if (existing) {
    // A matching email alone never opens an account to a provider that isn't the account's way in:
    // an administrator who signs in with a password (and MFA) can't be linked to an upstream identity
    // that happens to carry their address, however well that upstream verifies it.
    if (!(await providerIsFor(directory, provider, existing))) {
      return {
        ok: false,
        reason: 'not_routed',
        message: `Your Gatehouse account does not sign in with ${provider.name}. Sign in the way your organisation set up for you, or ask your administrator.`,
      };
    }
    const refused = await canUse(existing);
    if (refused) return refused;
    try {
      await directory.change(
        actor,
        'federation.link',
        (scoped) => scoped.identityLinks.create(linkInput(existing.id)),
        (link) => ({ target: { type: 'user', id: existing.id, name: existing.username }, details: { identity_provider: provider.name, link_id: link.id, via: 'first_login' } }),
      );
    } catch (error) {
      // The same identity's first sign-in in another tab linked it first: that link decides.
      if (!(error instanceof DomainError && error.status === 409)) throw error;
      const raced = await directory.identityLinks.find(provider.id, identity.linkIssuer, identity.linkSubject);
      if (raced?.user_id !== existing.id) return { ok: false, reason: 'several_matches', message: 'This account is being linked elsewhere. Try again.' };
    }
    return { ok: true, user: existing, via: 'link_existing' };
  }
  if (provider.first_login !== 'create') return { ok: false, reason: 'no_match', message: noAccount(identity.email) };

  const username = await freeUsername(directory, identity);
  if (!username) return { ok: false, reason: 'no_match', message: noAccount(identity.email) };
  const user = await directory.change(
    actor,
    'federation.user_created',
    async (scoped) => {
      const created = await scoped.users.create({
        username,
        email: identity.email ?? '',
        firstname: identity.givenName ?? firstName(identity.name),
        lastname: identity.familyName ?? lastName(identity.name),
        displayname: identity.name,
        state: 'ACTIVATED',
      });
      for (const group of provider.jit_groups) await scoped.groups.addMember(group, created.id);
      await scoped.identityLinks.create(linkInput(created.id));
      return created;
    },
    (created) => ({ target: { type: 'user', id: created.id, name: created.username }, details: { identity_provider: provider.name, groups: provider.jit_groups.length } }),
  );
  return { ok: true, user, via: 'create' };
}

/** True when the user is routed to this provider by a routing policy, or their email's domain is one of its domain rules. */
async function providerIsFor(directory: Directory, provider: IdentityProvider, user: User): Promise<boolean> {
  const domain = user.email.slice(user.email.lastIndexOf('@') + 1).toLowerCase();
  if (provider.home_realm_domains.includes(domain)) return true;
  return (await directory.routingPolicies.routeFor(user.id))?.id === provider.id;
}

const firstName = (name: string | undefined) => name?.split(/\s+/)[0]?.slice(0, 128);
const lastName = (name: string | undefined) => name?.split(/\s+/).slice(1).join(' ').slice(0, 128) || undefined;

/** The email as username (as people type it), or the preferred username, whichever is free and valid. */
async function freeUsername(directory: Directory, identity: UpstreamIdentity): Promise<string | undefined> {
  for (const candidate of [identity.email, identity.preferredUsername]) {
    if (!candidate || !USERNAME_PATTERN.test(candidate)) continue;
    const taken = await directory.users.get(candidate).catch(() => undefined);
    if (!taken) return candidate;
  }
  return undefined;
}
