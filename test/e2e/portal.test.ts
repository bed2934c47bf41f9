/**
 * The user portal end to end, in Chromium, with the server on both databases: a person signs in at
 * the issuer's root and sees exactly the apps they may open; a tile opens the app's Login URL with
 * iss, and the app (a real relying party: openid-client in a node:http server) signs them in
 * without asking for a password again; they change their password, sign another browser out, revoke
 * an app (its refresh token is then refused); a non-administrator at /admin is offered the portal.
 * axe-core checks every screen for serious or critical accessibility problems.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { assertAccessible } from '../helpers/axe.ts';
import { type Chromium, launchChromium } from '../helpers/chromium.ts';
import { PASSWORD, submitSignIn } from '../helpers/console.ts';
import { DATABASE_KINDS } from '../helpers/databases.ts';
import { type TestEntra, startEntra } from '../helpers/entra.ts';
import { type TestGatehouse, startGatehouse } from '../helpers/gatehouse.ts';
import { freePort } from '../helpers/net.ts';
import { portalSignIn } from '../helpers/portal.ts';
import { client } from '../helpers/rp.ts';

const NEW_PASSWORD = 'a brand new passphrase for her';

/**
 * The app behind a tile: its Login URL starts an SP-initiated sign-in (OIDC Core §4, third-party
 * initiated login: it checks iss is the issuer it knows), its callback finishes it with openid-client.
 */
interface RelyingParty {
  url: string;
  loginUrl: string;
  redirectUri: string;
  configure(clientId: string, clientSecret: string): Promise<void>;
  /** Every completed sign-in, newest last. */
  signIns: { iss: string | null; tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers }[];
  config(): client.Configuration;
  close(): Promise<void>;
}

async function startRelyingParty(issuer: string): Promise<RelyingParty> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const redirectUri = `${url}/callback`;
  let config: client.Configuration | undefined;
  const pending = new Map<string, { verifier: string; nonce: string; iss: string | null }>();
  const signIns: RelyingParty['signIns'] = [];
  const server: Server = createServer((request, response) => {
    const here = new URL(request.url ?? '/', url);
    const send = (status: number, body: string, headers: Record<string, string> = {}) => response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers }).end(body);
    (async () => {
      if (!config) return send(503, 'not configured');
      if (here.pathname === '/login') {
        const iss = here.searchParams.get('iss');
        if (iss !== null && iss !== issuer) return send(400, '<h1>Unknown issuer</h1>');
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        pending.set(state, { verifier, nonce, iss });
        const authorize = client.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: 'openid profile email offline_access',
          state,
          nonce,
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        });
        return send(302, '', { location: authorize.href, 'set-cookie': `rp_state=${state}; Path=/; HttpOnly; SameSite=Lax` });
      }
      if (here.pathname === '/callback') {
        // The state is bound to this browser's cookie, as a real app binds it.
        const state = /rp_state=([^;]+)/.exec(request.headers.cookie ?? '')?.[1] ?? '';
        const started = pending.get(state);
        if (!started) return send(400, '<h1>No sign-in was started here</h1>');
        pending.delete(state);
        const tokens = await client.authorizationCodeGrant(config, here, { pkceCodeVerifier: started.verifier, expectedState: state, expectedNonce: started.nonce, idTokenExpected: true });
        signIns.push({ iss: started.iss, tokens });
        return send(200, `<!doctype html><title>Wiki</title><h1>Signed in to Wiki as ${tokens.claims()?.preferred_username}</h1>`);
      }
      return send(404, 'not found');
    })().catch((error: unknown) => send(500, `<h1>Sign-in failed</h1><pre>${String(error)}</pre>`));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url,
    loginUrl: `${url}/login`,
    redirectUri,
    signIns,
    async configure(clientId, clientSecret) {
      config = await client.discovery(new URL(issuer), clientId, { redirect_uris: [redirectUri] }, client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] });
    },
    config() {
      if (!config) throw new Error('not configured');
      return config;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`User portal end to end (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let chromium: Chromium;
    let rp: RelyingParty;
    let entra: TestEntra;
    const contexts: BrowserContext[] = [];

    /** A fresh browser profile on the portal, signed in as `username` through Gatehouse's sign-in page. */
    async function signInToPortal(username: string, options: { path?: string; width?: number; height?: number; password?: string } = {}) {
      const context = await chromium.newContext({ ...(options.width ? { width: options.width } : {}), ...(options.height ? { height: options.height } : {}) });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${gatehouse.issuer}${options.path ?? '/'}`);
      await page.waitForURL(/\/interaction\//).catch(async (error: unknown) => {
        throw new Error(`no sign-in page: at ${page.url()}: ${(await page.textContent('body'))?.slice(0, 400)}`, { cause: error });
      });
      await submitSignIn(page, username, options.password ?? PASSWORD);
      await page.waitForURL((url) => url.origin === gatehouse.issuer && !url.pathname.startsWith('/interaction') && url.pathname !== '/callback');
      await page.getByRole('heading', { level: 1 }).waitFor();
      return { context, page };
    }

    const nav = (page: Page) => page.getByRole('navigation', { name: 'Portal' });

    before(async () => {
      gatehouse = await startGatehouse(kind);
      chromium = await launchChromium();
      rp = await startRelyingParty(gatehouse.issuer);
      const { directory } = gatehouse;
      await directory.settings.update({ organisation_name: 'Example Corp' });
      const create = (username: string, role: 'administrator' | null) =>
        directory.users.create({ username, email: `${username}@example.com`, firstname: username[0]?.toUpperCase() + username.slice(1), lastname: 'Tester', password: PASSWORD, state: 'ACTIVATED', role });
      const pia = await create('pia', null);
      await create('ada', 'administrator');
      const design = await directory.groups.create('Design');
      await directory.groups.addMember(design.id, pia.id);
      const everyone = await directory.groups.get('All Users');

      const app = async (label: string, options: { login_url?: string; bind?: string; show_in_portal?: boolean; description?: string; redirect?: string; refresh?: boolean }) => {
        const { app: created, clientSecret } = await directory.apps.create({
          label,
          description: options.description ?? '',
          redirect_uris: [options.redirect ?? `https://${label.toLowerCase().replaceAll(' ', '-')}.example.test/callback`],
          ...(options.login_url ? { login_url: options.login_url } : {}),
          ...(options.show_in_portal === undefined ? {} : { show_in_portal: options.show_in_portal }),
          auth_method: 'client_secret_basic',
          refresh_token: options.refresh ?? false,
          scopes: ['profile', 'email'],
        });
        if (options.bind) await directory.apps.bind(created.id, options.bind);
        return { app: created, clientSecret: clientSecret ?? '' };
      };
      const wiki = await app('Wiki', { login_url: rp.loginUrl, bind: design.id, description: 'The team wiki', redirect: rp.redirectUri, refresh: true });
      await rp.configure(wiki.app.client_id, wiki.clientSecret);
      await app('Calendar', { login_url: 'https://calendar.example.test/start?from=portal', bind: everyone.id, description: 'Everyone’s calendar' });
      await app('Payroll', { login_url: 'https://payroll.example.test/', description: 'Not bound to any group of pia’s' });
      const inactive = await app('Old Intranet', { login_url: 'https://intranet.example.test/', bind: design.id });
      await directory.apps.deactivate(inactive.app.id);
      await app('Hidden Tool', { login_url: 'https://hidden.example.test/', bind: design.id, show_in_portal: false });
      await app('Backend API', { bind: design.id, description: 'No Login URL' });

      // Rhea signs in at her organisation's Entra ID (a routing policy sends her group there).
      entra = await startEntra();
      const tenant = entra.addTenant();
      const registration = entra.registerApp({ redirectUris: [`${gatehouse.issuer}/oauth/callback`], authMethod: 'client_secret_post' });
      await directory.identityProviders.create({ name: 'Contoso Entra', type: 'entra', url: entra.tenantUrl(tenant), client_id: registration.clientId, client_secret: registration.clientSecret });
      await directory.groups.create('Entra users');
      await directory.routingPolicies.create({ name: 'Staff', identity_provider: 'Contoso Entra', user_groups: ['Entra users'] });
      const rhea = await create('rhea', null);
      await directory.groups.addMember('Entra users', rhea.id);
      entra.addPerson({ tenant, username: 'rhea@example.com', name: 'Rhea Routed', email: 'rhea@example.com', xms_edov: true });
    });
    after(async () => {
      for (const context of contexts) await context.close().catch(() => undefined);
      await chromium?.close();
      await rp?.close();
      await entra?.close();
      await gatehouse?.close();
    });

    test('a person sees exactly their apps; a tile opens the app, which signs them in without asking again', async () => {
      const { context, page } = await signInToPortal('pia');
      assert.equal(new URL(page.url()).pathname, '/');
      await page.getByRole('heading', { name: 'Your apps', level: 1 }).waitFor();
      const tiles = page.getByRole('list', { name: 'Apps' }).getByRole('link');
      await tiles.first().waitFor();
      const names = await tiles.evaluateAll((links) => links.map((link) => link.querySelector('p')?.textContent ?? ''));
      assert.deepEqual(names, ['Calendar', 'Wiki'], 'bound, active, shown and with a Login URL only');
      const calendar = new URL((await tiles.nth(0).getAttribute('href')) ?? '');
      assert.equal(calendar.searchParams.get('from'), 'portal', 'the Login URL’s own query kept');
      assert.equal(calendar.searchParams.get('iss'), gatehouse.issuer);
      await page.getByRole('banner').getByText('Example Corp').waitFor();
      await assertAccessible(page, 'apps');

      // The tile opens the app in a new tab; every page that tab asks for (redirects included) is recorded.
      const visited: string[] = [];
      context.on('request', (request) => {
        if (request.isNavigationRequest()) visited.push(request.url());
      });
      const [app] = await Promise.all([context.waitForEvent('page'), tiles.nth(1).click()]);
      await app.getByRole('heading', { name: 'Signed in to Wiki as pia' }).waitFor();
      assert.ok(visited[0]?.startsWith(`${rp.loginUrl}?`), `the tab opened the Login URL first (${visited.join(', ')})`);
      assert.ok(visited.some((url) => url.startsWith(`${gatehouse.issuer}/oauth2/`)), 'the app sent it to Gatehouse');
      assert.deepEqual(visited.filter((url) => url.includes('/interaction/')), [], 'no sign-in page on the way');
      assert.equal(rp.signIns.length, 1);
      assert.equal(rp.signIns[0]?.iss, gatehouse.issuer, 'the Login URL was opened with iss');
      assert.equal(rp.signIns[0]?.tokens.claims()?.preferred_username, 'pia');
      assert.ok(rp.signIns[0]?.tokens.refresh_token, 'the app keeps a refresh token');
      await app.close();
    });

    test('profile: directory fields, groups and when the password was last changed; security lists the password as a sign-in method', async () => {
      const { page } = await signInToPortal('pia', { path: '/profile' });
      await page.getByRole('heading', { name: 'Profile', level: 1 }).waitFor();
      await page.getByText('pia@example.com').waitFor();
      await page.getByRole('list', { name: 'Your groups' }).getByText('Design').waitFor();
      assert.equal(await page.getByRole('textbox', { name: 'Display name' }).count(), 0, 'not editable unless the organisation allows it');
      await assertAccessible(page, 'profile');

      await nav(page).getByRole('link', { name: 'Security' }).click();
      await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor();
      await page.getByRole('listitem', { name: 'Password' }).waitFor();
      await assertAccessible(page, 'security');
    });

    test('sessions: another browser is signed out while this one goes on; revoking an app ends its refresh token', async () => {
      const first = await signInToPortal('pia', { path: '/sessions' });
      const second = await signInToPortal('pia');
      await first.page.reload();
      const sessions = first.page.getByRole('list', { name: 'Sessions' }).getByRole('listitem');
      await first.page.getByRole('heading', { name: "Where you're signed in" }).waitFor();
      await sessions.first().waitFor();
      // The first test's browser, and these two.
      assert.ok((await sessions.count()) >= 2);
      const current = first.page.getByRole('listitem').filter({ hasText: 'This device' });
      assert.equal(await current.count(), 1, 'one session is this one');
      await assertAccessible(first.page, 'sessions');

      // Sign the second browser out: the newest session that is not this one.
      const other = sessions.filter({ hasNotText: 'This device' }).first();
      await other.getByRole('button', { name: /^Sign out/ }).click();
      const dialog = first.page.getByRole('dialog');
      await assertAccessible(first.page, 'sessions, confirming');
      await dialog.getByRole('button', { name: 'Sign out' }).click();
      await dialog.waitFor({ state: 'detached' });
      await first.page.getByText(/has been signed out/).waitFor();

      // The second browser must sign in again; the first still works.
      await second.page.reload();
      await second.page.waitForURL(/\/interaction\//);
      await second.page.getByLabel('Username or email').waitFor();
      await first.page.reload();
      await first.page.getByRole('listitem').filter({ hasText: 'This device' }).waitFor();

      // Revoke the app: its refresh token is refused from then on.
      const refreshToken = rp.signIns[0]?.tokens.refresh_token ?? '';
      const wiki = first.page.getByRole('list', { name: 'Apps signed in to' }).getByRole('listitem', { name: 'Wiki' });
      await wiki.getByRole('button', { name: 'Revoke Wiki' }).click();
      await first.page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
      await first.page.getByText('Wiki has been revoked').waitFor();
      await wiki.waitFor({ state: 'detached' });
      await assert.rejects(client.refreshTokenGrant(rp.config(), refreshToken), (error: { error?: string }) => error.error === 'invalid_grant');
    });

    test('security: a wrong current password is refused with the server’s message; the new one signs in, the old one no longer', async () => {
      const { page } = await signInToPortal('pia', { path: '/security' });
      await page.getByRole('button', { name: 'Change password' }).click();
      const form = page.getByRole('form', { name: 'Change password' });
      await form.getByLabel('Current password').fill('not my password');
      await form.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await form.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await form.getByRole('button', { name: 'Change password' }).click();
      await form.getByRole('alert').waitFor();
      assert.match((await form.getByRole('alert').textContent()) ?? '', /password/i);
      await assertAccessible(page, 'security, password refused');

      // Confirmation must match, before anything is sent.
      await form.getByLabel('Current password').fill(PASSWORD);
      await form.getByLabel('Confirm new password').fill(`${NEW_PASSWORD}!`);
      await form.getByRole('button', { name: 'Change password' }).click();
      await form.getByText('The two new passwords are not the same').waitFor();
      await form.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await form.getByRole('button', { name: 'Change password' }).click();
      await page.getByText('Your password has been changed').waitFor();
      await page.getByRole('listitem', { name: 'Password' }).getByText(/Last changed/).waitFor();

      await assert.rejects(portalSignIn(gatehouse, 'pia', PASSWORD), 'the old password no longer signs in');
      const fresh = await portalSignIn(gatehouse, 'pia', NEW_PASSWORD);
      assert.equal(fresh.claims?.preferred_username, 'pia');
    });

    test('a person who is not an administrator is offered the portal at /admin; an administrator gets a link to the console', async () => {
      const { page } = await signInToPortal('pia', { password: NEW_PASSWORD });
      assert.equal(await page.getByRole('link', { name: 'Admin console' }).count(), 0, 'no console link for pia');
      await page.goto(`${gatehouse.issuer}/admin/`);
      const goToApps = page.getByRole('link', { name: 'Go to your apps' }).or(page.getByRole('button', { name: 'Go to your apps' }));
      await goToApps.first().click();
      await page.waitForURL((url) => url.origin === gatehouse.issuer && url.pathname === '/');
      await page.getByRole('heading', { name: 'Your apps' }).waitFor();

      const admin = await signInToPortal('ada');
      await nav(admin.page).getByRole('link', { name: 'Admin console' }).click();
      await admin.page.waitForURL(/\/admin\/users$/);
      await admin.page.getByRole('navigation', { name: 'Main navigation' }).waitFor();
    });

    test('the display name is editable only when the organisation allows it', async () => {
      await gatehouse.directory.settings.update({ users_may_edit_displayname: true });
      const { page } = await signInToPortal('pia', { path: '/profile', password: NEW_PASSWORD });
      const field = page.getByRole('textbox', { name: 'Display name' });
      await field.fill('Pia the Designer');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Display name saved').waitFor();
      await page.getByRole('button', { name: 'Pia the Designer (account menu)' }).waitFor();
      assert.equal((await gatehouse.directory.users.get('pia')).displayname, 'Pia the Designer');
      await assertAccessible(page, 'profile, editable display name');
      await gatehouse.directory.settings.update({ users_may_edit_displayname: false });
    });

    test('on a phone the navigation folds behind a button; signing out ends the Gatehouse session', async () => {
      const { page } = await signInToPortal('pia', { width: 390, height: 844, password: NEW_PASSWORD });
      const empty = page.getByText('You have no apps yet');
      assert.equal(await empty.count(), 0);
      assert.equal(await nav(page).isVisible(), false, 'the navigation is folded away');
      await page.getByRole('button', { name: 'Navigation' }).click();
      await nav(page).getByRole('link', { name: 'Profile' }).click();
      await page.getByRole('heading', { name: 'Profile', level: 1 }).waitFor();
      await assertAccessible(page, 'profile on a phone');

      await page.getByRole('button', { name: /account menu/ }).click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.waitForURL(/\/signed-out$/);
      await page.getByRole('heading', { name: 'You have signed out' }).waitFor();
      await assertAccessible(page, 'signed out');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('gatehouse.portal.session')), null);
      await page.getByRole('button', { name: 'Sign in again' }).click();
      await page.waitForURL(/\/interaction\//);
    });

    test('with many apps a search box narrows the tiles; with none, the page says whom to ask', async () => {
      const { directory } = gatehouse;
      const design = await directory.groups.get('Design');
      const extra: string[] = [];
      for (const n of [1, 2, 3, 4, 5, 6]) {
        const { app } = await directory.apps.create({ label: `Tool ${n}`, description: n === 3 ? 'Expenses and receipts' : '', redirect_uris: [`https://tool${n}.example.test/callback`], login_url: `https://tool${n}.example.test/`, scopes: [] });
        await directory.apps.bind(app.id, design.id);
        extra.push(app.id);
      }
      const { page } = await signInToPortal('pia', { password: NEW_PASSWORD });
      const tiles = page.getByRole('list', { name: 'Apps' }).getByRole('link');
      await tiles.nth(7).waitFor();
      const search = page.getByRole('searchbox', { name: 'Search apps' });
      await search.fill('receipts');
      await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('[data-app-tile]').length === 1);
      assert.match((await tiles.first().textContent()) ?? '', /Tool 3/);
      await search.fill('nothing like this');
      await page.getByText('No app matches “nothing like this”').waitFor();
      await assertAccessible(page, 'apps, searched');
      for (const id of extra) await directory.apps.delete(id);

      // Someone with no app at all (Calendar, bound to All Users, switched off for the moment).
      const calendar = await directory.apps.get('Calendar');
      await directory.apps.deactivate(calendar.id);
      try {
        await directory.users.create({ username: 'nia', email: 'nia@example.com', firstname: 'Nia', lastname: 'Tester', password: PASSWORD, state: 'ACTIVATED' });
        const nia = await signInToPortal('nia');
        await nia.page.getByText('You have no apps yet').waitFor();
        await nia.page.getByText(/administrators of Example Corp/).waitFor();
        await assertAccessible(nia.page, 'apps, none');
      } finally {
        await directory.apps.activate(calendar.id);
      }
    });

    test('signing out this device from its own session list signs the portal out', async () => {
      const { page } = await signInToPortal('pia', { path: '/sessions', password: NEW_PASSWORD });
      await page.getByRole('button', { name: 'Sign out this device' }).click();
      await page.getByRole('dialog', { name: 'Sign out of this device?' }).getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/signed-out$/);
      assert.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('gatehouse.portal.session')), null);
      await page.goto(`${gatehouse.issuer}/`);
      await page.waitForURL(/\/interaction\//);
    });

    test('the keyboard reaches "Skip to content" first, and it leads to the screen', async () => {
      const { page } = await signInToPortal('pia', { path: '/profile', password: NEW_PASSWORD });
      await page.keyboard.press('Tab');
      const skip = page.getByRole('link', { name: 'Skip to content' });
      assert.equal(await skip.evaluate((link) => link === (link.ownerDocument as unknown as { activeElement: unknown }).activeElement), true);
      await page.keyboard.press('Enter');
      assert.equal(new URL(page.url()).hash, '#main');
    });

    test('a person who signs in at an identity provider uses the portal too; their password is managed there, so there is no form', async () => {
      const context = await chromium.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${gatehouse.issuer}/security`);
      await page.waitForURL(/\/interaction\//);
      await page.getByLabel('Username or email').fill('rhea@example.com');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((url) => url.origin === gatehouse.issuer && url.pathname === '/security');
      const password = page.getByRole('listitem', { name: 'Password' });
      await password.getByText('Your password is managed by Contoso Entra').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Change password' }).count(), 0, 'no form to change it here');
      assert.equal(await page.getByLabel('Current password').count(), 0);
      await assertAccessible(page, 'security, password managed by the identity provider');
    });

    test('signing out everywhere ends every browser’s session, this one’s too', async () => {
      const first = await signInToPortal('pia', { path: '/sessions', password: NEW_PASSWORD });
      const second = await signInToPortal('pia', { password: NEW_PASSWORD });
      await first.page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await first.page.getByRole('dialog').getByRole('button', { name: 'Sign out everywhere' }).click();
      await first.page.waitForURL(/\/signed-out$/);
      for (const page of [first.page, second.page]) {
        await page.goto(`${gatehouse.issuer}/sessions`);
        await page.waitForURL(/\/interaction\//);
        await page.getByLabel('Username or email').waitFor();
      }
    });
  });
}
