import type { RoutingPolicyStore } from '../federation/routing.ts';
import type { AccessResolver } from './access.ts';
import type { App, AppIcon, AppStore } from './apps.ts';
import type { Actor, AuditLog } from './audit.ts';
import { DomainError } from './errors.ts';
import type { Directory } from './index.ts';
import type { User, UserStore } from './users.ts';

/** One tile of the user portal: what the person sees and where a click takes them. */
export interface PortalApp {
  id: string;
  label: string;
  description: string;
  has_icon: boolean;
  /** The app's Login URL, with `iss` appended unless the app turned that off. */
  launch_url: string;
}

interface PortalStores {
  apps: AppStore;
  access: AccessResolver;
}

/**
 * Where a tile takes the person: the app's Login URL, as a third-party-initiated login (OIDC Core
 * §4) that names the issuer, so that an app trusting several issuers knows whom to ask. The URL's
 * own query and fragment stay as the administrator wrote them; an `iss` already in it is replaced,
 * since Gatehouse is the issuer the person comes from.
 */
export function launchUrl(loginUrl: string, issuer: string, sendIss: boolean): string {
  if (!sendIss) return loginUrl;
  const url = new URL(loginUrl);
  if (url.searchParams.has('iss')) {
    url.searchParams.set('iss', issuer);
    return url.href;
  }
  // Appended to the query as written: re-serialising it (URLSearchParams) would change its encoding.
  url.search = `${url.search ? `${url.search}&` : '?'}iss=${encodeURIComponent(issuer)}`;
  return url.href;
}

/**
 * The apps on a person's portal: active, with a Login URL, shown in the portal, and open to them by
 * the same rule as signing in (access.ts: an active, unlocked person in a group bound to the app;
 * deny by default). Gatehouse's own console and portal have no app rows and so never appear.
 */
async function visibleApps(stores: PortalStores, userId: string): Promise<App[]> {
  const candidates = (await stores.apps.appsOf(userId)).filter((app) => app.active && app.login_url !== null && app.show_in_portal);
  const decisions = await Promise.all(candidates.map((app) => stores.access.decide(userId, app.client_id)));
  return candidates
    .filter((_app, i) => decisions[i]?.allowed === true)
    .sort((a, b) => a.label.localeCompare(b.label, 'en', { sensitivity: 'base' }) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The tiles of a person's portal, by label: what GET /api/me/apps and the console's user page show. */
export async function portalAppsFor(stores: PortalStores, issuer: string, userId: string): Promise<PortalApp[]> {
  return (await visibleApps(stores, userId)).map((app) => ({
    id: app.id,
    label: app.label,
    description: app.description,
    has_icon: app.icon !== null,
    launch_url: launchUrl(app.login_url as string, issuer, app.send_iss_on_launch),
  }));
}

/**
 * The icon of an app on the person's portal. An app they can't see answers as if it didn't exist
 * (404 app.not_found), so that the portal API tells nobody which other apps there are.
 */
export async function portalAppIcon(stores: PortalStores, userId: string, appId: string): Promise<AppIcon> {
  const app = (await visibleApps(stores, userId)).find((candidate) => candidate.id === appId);
  if (!app) throw new DomainError('app.not_found', 404, 'There is no such app on your portal.');
  if (!app.icon) throw new DomainError('app.no_icon', 404, `"${app.label}" has no icon.`);
  return app.icon;
}

/** The stores changeOwnPassword works with (a Directory has them all). */
interface PasswordStores {
  users: UserStore;
  routingPolicies: RoutingPolicyStore;
  audit: AuditLog;
  change: Directory['change'];
}

/**
 * A person's password is theirs to change only where Gatehouse manages it: one a routing policy
 * sends to an identity provider is changed there (409, naming the provider), and one who has no
 * Gatehouse password (signs in elsewhere, or was never given one) has none to change here.
 */
export async function refuseUnchangeablePassword(stores: Pick<PasswordStores, 'users' | 'routingPolicies'>, userId: string): Promise<void> {
  const provider = await stores.routingPolicies.routeFor(userId);
  if (provider) {
    throw new DomainError(
      'user.password_externally_managed',
      409,
      `You sign in with "${provider.name}": your password is managed there. Change it with ${provider.name}, not in Gatehouse.`,
    );
  }
  const user = await stores.users.get(userId);
  if (!user.has_password) {
    throw new DomainError('self.no_password', 409, 'You have no Gatehouse password to change. Ask your administrator to set one if you need it.');
  }
}

/**
 * Changes the person's own password. The current one is checked exactly as at the sign-in page
 * (users.signIn: argon2 in constant time, and a wrong one counts towards the account lockout, which
 * is why it is checked outside the change's transaction: the count must survive the refusal). The
 * new one keeps to the same rules as every password set (length policy, not blank).
 */
export async function changeOwnPassword(stores: PasswordStores, actor: Actor, user: User, currentPassword: string, newPassword: string): Promise<void> {
  const target = { type: 'user', id: user.id, name: user.username };
  const refuse = async (error: DomainError): Promise<never> => {
    await stores.audit.record(actor, { action: 'self.password_change', target, outcome: 'failure', details: { code: error.code } });
    throw error;
  };
  await refuseUnchangeablePassword(stores, user.id).catch((error: unknown) => (error instanceof DomainError ? refuse(error) : Promise.reject(error)));
  const checked = await stores.users.signIn(user.username, currentPassword);
  if (!checked.ok || checked.user.id !== user.id) {
    if (!checked.ok && checked.reason === 'locked') {
      return refuse(new DomainError('user.locked', 403, 'Too many wrong passwords: your account is locked. Ask your administrator to unlock it.'));
    }
    return refuse(
      new DomainError('self.password_incorrect', 400, 'Your current password is not correct.', [{ path: 'current_password', message: 'Your current password is not correct.' }]),
    );
  }
  if (newPassword === currentPassword) {
    return refuse(new DomainError('self.password_unchanged', 400, 'Choose a new password that differs from the current one.', [{ path: 'new_password', message: 'The same as the current password.' }]));
  }
  try {
    await stores.change(
      actor,
      'self.password_change',
      async (d) => {
        // Again inside the transaction: a routing policy added meanwhile wins.
        await refuseUnchangeablePassword(d, user.id);
        await d.users.setPassword(user.id, newPassword);
      },
      () => ({ target }),
      target,
    );
  } catch (error) {
    // The rules speak of `password`; the person typed it into `new_password`.
    if (error instanceof DomainError && error.details?.some((detail) => detail.path === 'password')) {
      throw new DomainError(error.code, error.status, error.message, error.details.map((detail) => (detail.path === 'password' ? { ...detail, path: 'new_password' } : detail)));
    }
    throw error;
  }
}
