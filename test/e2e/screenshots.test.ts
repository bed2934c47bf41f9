/**
 * Every main screen of the admin console and the user portal, on a believable directory, rendered in
 * Chromium without a page error; photographed into docs/screenshots for the README with `npm run screenshots`
 * (GATEHOUSE_SCREENSHOTS=docs/screenshots), not during `npm test`.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { totpCode } from '../../src/authn/totp.ts';
import { call } from '../helpers/api.ts';
import { type Chromium, launchChromium } from '../helpers/chromium.ts';
import { type ConsoleWorld, startConsoleWorld, submitSignIn } from '../helpers/console.ts';
import type { TestGatehouse } from '../helpers/gatehouse.ts';
import { startLocalhostGatehouse, withAuthenticator } from '../helpers/webauthn.ts';

const target = process.env.GATEHOUSE_SCREENSHOTS ? resolve(process.env.GATEHOUSE_SCREENSHOTS) : undefined;

const PEOPLE = [
  ['ada', 'Ada', 'Lovelace', ['Engineering']],
  ['grace', 'Grace', 'Hopper', ['Engineering', 'Platform']],
  ['alan', 'Alan', 'Turing', ['Engineering', 'Security']],
  ['katherine', 'Katherine', 'Johnson', ['Finance']],
  ['margaret', 'Margaret', 'Hamilton', ['Platform', 'Security']],
  ['linus', 'Linus', 'Pauling', ['Support']],
  ['barbara', 'Barbara', 'Liskov', ['Engineering']],
  ['tim', 'Tim', 'Berners-Lee', ['Support', 'Contractors']],
  ['radia', 'Radia', 'Perlman', ['Platform']],
  ['edsger', 'Edsger', 'Dijkstra', []],
] as const;

const APPS = [
  { label: 'ngrok', colour: '#1f1e37', groups: ['All Users'], auth: 'client_secret_basic', scopes: ['email', 'profile'] },
  { label: 'Hoop', colour: '#ff5a36', groups: ['Engineering', 'Platform'], auth: 'client_secret_basic', scopes: ['email', 'profile'] },
  { label: 'Defguard', colour: '#0c8ce9', groups: ['Engineering', 'Security'], auth: 'client_secret_post', scopes: ['profile'] },
  { label: 'SingleStore Helios', colour: '#7a32e2', groups: ['Finance', 'Engineering'], auth: 'none', scopes: ['email', 'profile'] },
] as const;

const icon = (letter: string, colour: string) =>
  Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="${colour}"/><text x="32" y="43" font-family="sans-serif" font-size="30" font-weight="700" fill="#fff" text-anchor="middle">${letter}</text></svg>`,
  ).toString('base64');

describe('Admin console screens (screenshots)', () => {
  let world: ConsoleWorld;
  const ids = { user: '', group: '', app: '', provider: '', federatedUser: '' };

  before(async () => {
    if (target) mkdirSync(target, { recursive: true });
    world = await startConsoleWorld();
    const { directory } = world.gatehouse;
    await directory.settings.update({ organisation_name: 'Example Corp' });
    const admin = await world.person('admin', 'administrator_with_billing');
    const groups = new Map<string, string>();
    for (const name of ['Engineering', 'Platform', 'Security', 'Finance', 'Support', 'Contractors']) {
      groups.set(name, (await directory.groups.create(name, `${name} team`)).id);
    }
    groups.set('All Users', (await directory.groups.get('All Users')).id);
    for (const [username, firstname, lastname, memberOf] of PEOPLE) {
      const user = await directory.users.create({ username, email: `${username}@example.com`, firstname, lastname, password: 'a long enough password', state: 'ACTIVATED', attributes: { department: memberOf[0] ?? 'Other' } });
      for (const group of memberOf) await directory.groups.addMember(groups.get(group) ?? '', user.id);
      if (username === 'grace') ids.user = user.id;
    }
    await directory.users.create({ username: 'new.hire', email: 'new.hire@example.com', firstname: 'New', lastname: 'Hire', state: 'STAGED' });
    await directory.users.setRole('margaret', 'help_desk');
    await world.gatehouse.runtime.storage.db.updateTable('users').set({ account_locked: 1 }).where('username_key', '=', 'linus').execute();
    for (const app of APPS) {
      const { app: created } = await directory.apps.create({
        label: app.label,
        description: `${app.label}, signed in through Gatehouse`,
        redirect_uris: [`https://${app.label.toLowerCase().replaceAll(' ', '-')}.example.com/oauth2/callback`],
        login_url: `https://${app.label.toLowerCase().replaceAll(' ', '-')}.example.com/login`,
        auth_method: app.auth,
        refresh_token: app.label === 'SingleStore Helios',
        scopes: [...app.scopes],
        ...(app.label === 'Hoop' ? { groups_claim: 'https://app.hoop.dev/groups' } : {}),
      });
      await directory.apps.setIcon(created.id, { mediaType: 'image/svg+xml', base64: icon(app.label[0] ?? '?', app.colour) });
      for (const group of app.groups) await directory.apps.bind(created.id, groups.get(group) ?? '');
      if (app.label === 'Hoop') ids.app = created.id;
    }
    ids.group = groups.get('Engineering') ?? '';
    // Federation: Support signs in at Entra, contractors at their own OpenID provider (nothing upstream is contacted).
    const tenant = '3f6c1a2e-8b4d-4c5e-9a7f-2d1e0b9c8a7f';
    const entra = await directory.identityProviders.create({
      name: 'Entra OIDC',
      type: 'entra',
      url: `https://login.microsoftonline.com/${tenant}`,
      client_id: '6d2b9c4e-1a3f-4e8b-b7d5-0c9e8f7a6b5c',
      client_secret: 'not-a-real-secret',
      verified_domains: ['example.com'],
    });
    await directory.identityProviders.create({
      name: 'Contractor SSO',
      type: 'oidc',
      issuer: 'https://sso.contractors.example.net',
      client_id: 'gatehouse',
      client_secret: 'not-a-real-secret',
      first_login: 'create',
      jit_groups: ['Contractors'],
      home_realm_domains: ['contractors.example.net'],
    });
    await directory.routingPolicies.create({ name: 'Support at Entra', identity_provider: 'Entra OIDC', user_groups: ['Support'], priority: 1 });
    await directory.routingPolicies.create({ name: 'Contractors at their SSO', identity_provider: 'Contractor SSO', user_groups: ['Contractors'], priority: 2 });
    // Access policies (issue 12 §3): MFA for Finance in Helios outside the office, no portal after Entra.
    await directory.accessPolicies.create({ name: 'Finance MFA off the office network', resource: 'apps', apps: ['SingleStore Helios'], users: 'groups', user_groups: ['Finance'], addresses_not_in: ['203.0.113.0/24', '2001:db8::/32'], action: 'require_mfa', grace_days: 14 });
    await directory.accessPolicies.create({ name: 'No portal after Entra', resource: 'portal', sign_in: 'federated', action: 'deny' });
    const tim = await directory.users.get('tim');
    await directory.identityLinks.create({ user_id: tim.id, identity_provider_id: entra.id, issuer: tenant, subject: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', email: 'tim@example.com' });
    ids.provider = entra.id;
    ids.federatedUser = tim.id;
    // A few changes through the API, so the audit log has a story to tell.
    const { key } = await directory.apiKeys.create({ owner: admin.id, name: 'directory sync', scope: 'read_write' });
    await directory.apiKeys.create({ owner: admin.id, name: 'reporting', scope: 'read_only', expires: new Date(Date.now() + 90 * 86_400_000).toISOString() });
    await call(world.gatehouse, 'POST', '/api/users', { username: 'hedy', email: 'hedy@example.com', firstname: 'Hedy', lastname: 'Lamarr' }, { key });
    await call(world.gatehouse, 'PUT', `/api/groups/${groups.get('Support')}/members/${(await directory.users.get('hedy')).id}`, undefined, { key });
    await call(world.gatehouse, 'POST', '/api/signing-keys/rotate', undefined, { key });
  });
  after(async () => {
    await world?.close();
  });

  async function shoot(page: Page, name: string, ready: Locator): Promise<void> {
    await ready.first().waitFor();
    // In `npm test` the screen rendering (and no page error) is what is tested: settling and the PNG
    // itself cost about a minute of CI, for pictures nobody keeps.
    if (!target) return;
    await page.waitForLoadState('networkidle');
    await page.mouse.wheel(0, -100_000);
    await page.mouse.move(0, 0);
    // Let the icons (fetched as blobs) and transitions settle.
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(target, `${name}.png`) });
  }

  test('each main screen renders without a page error', async () => {
    const { page } = await world.signIn('admin', { path: '/users', width: 1280, height: 800 });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const go = (path: string) => page.goto(`${world.gatehouse.issuer}/admin${path}`);

    await shoot(page, 'users', page.getByRole('link', { name: 'Grace Hopper' }));
    await go(`/users/${ids.user}`);
    await shoot(page, 'user', page.getByRole('heading', { name: 'Grace Hopper' }));
    await go('/groups');
    await shoot(page, 'groups', page.getByRole('link', { name: 'Engineering' }));
    await go(`/groups/${ids.group}?tab=users`);
    await shoot(page, 'group', page.getByRole('link', { name: 'Grace Hopper' }));
    await go('/apps');
    await shoot(page, 'apps', page.getByRole('link', { name: 'Hoop' }));
    await go(`/apps/${ids.app}`);
    await shoot(page, 'app', page.getByText('Issuer & discovery'));

    await page.getByRole('button', { name: 'Regenerate client secret' }).click();
    await page.getByRole('dialog', { name: 'Regenerate the client secret?' }).getByRole('button', { name: 'Regenerate secret' }).click();
    const secret = page.getByRole('dialog', { name: 'New client secret' });
    await shoot(page, 'app-secret', secret.getByLabel('Client Secret', { exact: true }));
    await secret.getByLabel('I have copied it to a safe place').check();
    await secret.getByRole('button', { name: 'Done' }).click();

    await go('/apps/new?type=oidc');
    await page.getByLabel('Display Label').fill('Grafana');
    await page.getByRole('tab', { name: 'SSO' }).click();
    await page.getByLabel('Redirect URI 1', { exact: true }).fill('https://grafana.example.com/login/generic_oauth');
    await page.getByLabel('Email', { exact: true }).check();
    await page.getByLabel('Profile', { exact: true }).check();
    await page.getByLabel('Client Secret Basic').waitFor();
    await shoot(page, 'app-new', page.getByRole('tab', { name: 'SSO' }));

    await go('/identity-providers');
    await shoot(page, 'identity-providers', page.getByRole('link', { name: 'Contractor SSO' }));
    await go(`/identity-providers/${ids.provider}`);
    await shoot(page, 'identity-provider', page.getByLabel('Callback URL'));
    await go('/routing-policies');
    await shoot(page, 'routing-policies', page.getByText('Contractors at their SSO'));
    await go('/policies');
    await shoot(page, 'access-policies', page.getByText('No portal after Entra'));
    await page.getByRole('button', { name: 'Edit Finance MFA off the office network' }).click();
    await shoot(page, 'access-policy-editor', page.getByRole('dialog', { name: 'Edit access policy' }).getByLabel('Enrolment grace period (days)'));
    await page.keyboard.press('Escape');
    await go(`/users/${ids.federatedUser}?tab=identities`);
    await shoot(page, 'user-federated', page.getByRole('table', { name: 'Linked identities' }).getByText('tim@example.com'));

    await go('/security?tab=api-keys');
    await shoot(page, 'security', page.getByText('directory sync'));
    await go('/audit');
    await shoot(page, 'audit', page.getByText('keys.rotate'));
    await go('/settings');
    await shoot(page, 'settings', page.getByLabel('Organisation name'));
    assert.deepEqual(errors, []);
  });

  test('a narrow window', async () => {
    const { page } = await world.signIn('admin', { path: `/apps/${ids.app}`, width: 400, height: 800 });
    await shoot(page, 'narrow', page.getByRole('heading', { name: 'Hoop' }));
  });

  test('the user portal: apps, profile, security, sessions, and on a phone', async () => {
    const { issuer } = world.gatehouse;
    // Grace's browsers, the second one a phone; the apps' own sites are not on this network, so their pages are stand-ins.
    const contexts = [
      await world.chromium.browser.newContext({ viewport: { width: 1280, height: 800 } }),
      await world.chromium.browser.newContext({
        viewport: { width: 390, height: 844 },
        isMobile: true,
        userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1',
      }),
    ];
    try {
      const pages: Page[] = [];
      for (const context of contexts) {
        await context.route(/^https:\/\/[a-z-]+\.example\.com\//, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>App</title><h1>Signed in</h1>' }));
        const page = await context.newPage();
        page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
        await page.goto(`${issuer}/`);
        await page.waitForURL(/\/interaction\//);
        await submitSignIn(page, 'grace', 'a long enough password');
        await page.getByRole('heading', { name: 'Your apps' }).waitFor();
        pages.push(page);
      }
      const [desk, phone] = pages as [Page, Page];
      // Grace opens two apps from her tiles, which sign her in: they appear under "Apps you've signed in to".
      const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { authorization_endpoint: string };
      for (const label of ['Hoop', 'SingleStore Helios']) {
        const [app] = await Promise.all([desk.context().waitForEvent('page'), desk.getByRole('link', { name: new RegExp(`^${label}`) }).click()]);
        await app.waitForURL(/\.example\.com\//);
        const start = new URL(app.url());
        const row = await world.gatehouse.directory.apps.get(label);
        const authorize = new URL(discovery.authorization_endpoint);
        authorize.search = new URLSearchParams({ client_id: row.client_id, response_type: 'code', scope: 'openid profile', redirect_uri: row.redirect_uris[0] ?? '', state: 'screenshot', nonce: 'screenshot', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
        assert.equal(start.origin, new URL(row.login_url ?? '').origin);
        await app.close();
        // The app sends her to Gatehouse, which sends her straight back with a code (the browser's cookies, no page).
        let next = authorize.href;
        for (let hop = 0; hop < 5 && !next.startsWith(row.redirect_uris[0] ?? ''); hop++) {
          const response = await desk.context().request.get(next, { maxRedirects: 0 });
          next = new URL(response.headers().location ?? '', next).href;
        }
        assert.match(next, /[?&]code=/, `${label} got a code`);
      }

      await shoot(desk, 'portal-apps', desk.getByRole('link', { name: /^Defguard/ }));
      await desk.getByRole('navigation', { name: 'Portal' }).getByRole('link', { name: 'Profile' }).click();
      await shoot(desk, 'portal-profile', desk.getByRole('list', { name: 'Your groups' }));
      await desk.getByRole('navigation', { name: 'Portal' }).getByRole('link', { name: 'Security' }).click();
      await desk.getByRole('button', { name: 'Change password' }).click();
      await shoot(desk, 'portal-security', desk.getByLabel('Confirm new password'));
      await desk.getByRole('navigation', { name: 'Portal' }).getByRole('link', { name: 'Sessions and apps' }).click();
      await shoot(desk, 'portal-sessions', desk.getByRole('listitem', { name: 'SingleStore Helios' }));

      await phone.reload();
      await shoot(phone, 'portal-phone', phone.getByRole('link', { name: /^Hoop/ }));
    } finally {
      for (const context of contexts) await context.close();
    }
  });
});

/**
 * Multi-factor sign-in (issue 12 §5): enrolment in the portal (authenticator app with its QR code,
 * recovery codes, the passkeys list), the second-factor page and the passkey sign-in. WebAuthn needs
 * a domain as RP ID, so this Gatehouse is at http://localhost:<port> with a virtual authenticator.
 */
describe('Multi-factor screens (screenshots)', () => {
  let gatehouse: TestGatehouse;
  let chromium: Chromium;
  let authorizeUrl: string;

  before(async () => {
    if (target) mkdirSync(target, { recursive: true });
    gatehouse = await startLocalhostGatehouse('sqlite');
    chromium = await launchChromium();
    const { directory } = gatehouse;
    await directory.settings.update({ organisation_name: 'Example Corp' });
    await directory.users.create({ username: 'grace', email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper', password: 'a long enough password', state: 'ACTIVATED' });
    const { app } = await directory.apps.create({ label: 'Hoop', redirect_uris: ['https://hoop.example.com/oauth2/callback'], auth_method: 'client_secret_basic', scopes: ['email', 'profile'] });
    await directory.apps.bind(app.id, (await directory.groups.get('All Users')).id);
    const discovery = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as { authorization_endpoint: string };
    const authorize = new URL(discovery.authorization_endpoint);
    authorize.search = new URLSearchParams({ client_id: app.client_id, response_type: 'code', scope: 'openid profile', redirect_uri: 'https://hoop.example.com/oauth2/callback', state: 'screenshot', nonce: 'screenshot', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
    authorizeUrl = authorize.href;
  });
  after(async () => {
    await chromium?.close();
    await gatehouse?.close();
  });

  async function shoot(page: Page, name: string, ready: Locator): Promise<void> {
    await ready.first().waitFor();
    if (!target) return; // as above: only `npm run screenshots` keeps the pictures
    await page.waitForLoadState('networkidle');
    // Earlier steps' "added" notifications are not what the picture is about.
    for (const close of await page.locator('.mantine-Notification-closeButton').all()) await close.click();
    await page.mouse.move(0, 0);
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(target, `${name}.png`) });
  }

  test('enrolment in the portal, the second-factor page and the passkey sign-in', async () => {
    const authenticator = await withAuthenticator(chromium, 'platform', { width: 1280, height: 900 });
    const signInContext = await chromium.newContext({ width: 1280, height: 800 });
    try {
      const { page } = authenticator;
      page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
      await page.goto(`${gatehouse.issuer}/security`);
      await page.waitForURL(/\/interaction\//);
      await submitSignIn(page, 'grace', 'a long enough password');
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();

      const appRow = page.getByRole('listitem', { name: 'Authenticator app', exact: true });
      await appRow.getByRole('button', { name: 'Set up' }).click();
      await appRow.getByRole('button', { name: 'Start' }).click();
      const secret = await appRow.getByRole('textbox', { name: 'Secret key' }).inputValue();
      await appRow.getByRole('img', { name: /QR code/ }).scrollIntoViewIfNeeded();
      await shoot(page, 'mfa-authenticator-app', appRow.getByRole('img', { name: /QR code/ }));
      await appRow.getByLabel(/Enter the 6-digit code/).fill(totpCode(secret, Date.now()));
      await appRow.getByRole('button', { name: 'Confirm' }).click();
      const codes = page.getByRole('dialog', { name: 'Save your recovery codes' });
      await shoot(page, 'mfa-recovery-codes', codes.getByRole('list', { name: 'Recovery codes' }));
      await codes.getByRole('button', { name: 'I have saved them' }).click();
      await codes.waitFor({ state: 'hidden' });

      const keys = page.getByRole('listitem', { name: 'Passkeys and security keys' });
      for (const name of ['MacBook Touch ID', 'YubiKey 5C']) {
        await keys.getByRole('button', { name: 'Add a passkey or security key' }).click();
        await keys.getByRole('textbox', { name: 'Name' }).fill(name);
        await keys.getByRole('button', { name: 'Continue' }).click();
        await keys.getByRole('row', { name: new RegExp(name) }).waitFor();
        // The second key is another authenticator: a USB security key in place of the laptop's.
        await authenticator.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: authenticator.authenticatorId });
        const usb = await authenticator.cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false, automaticPresenceSimulation: true } });
        authenticator.authenticatorId = usb.authenticatorId;
      }
      await page.mouse.wheel(0, -100_000);
      await shoot(page, 'mfa-portal-security', keys.getByRole('table'));

      // Another browser: the app's sign-in page with "Sign in with a passkey", then the second step after the password.
      const signIn = await signInContext.newPage();
      await signIn.goto(authorizeUrl);
      await shoot(signIn, 'mfa-passkey-sign-in', signIn.getByRole('button', { name: 'Sign in with a passkey' }));
      await submitSignIn(signIn, 'grace', 'a long enough password');
      await shoot(signIn, 'mfa-second-factor', signIn.getByRole('heading', { name: 'Two-step verification' }));
    } finally {
      await signInContext.close();
      await authenticator.context.close();
    }
  });
});
