/**
 * The admin console end to end, as the issue puts it: an administrator sets up the ngrok Custom
 * OIDC App entirely in the browser and a real relying party (openid-client) then signs the new user
 * in with the credentials from the one-time dialog; a read_only administrator sees every screen but
 * no write control, and a write forced with their token is refused. (The no-access case for people
 * without a role is in session.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';
import { discover, signIn } from '../helpers/rp.ts';

const RP_CALLBACK = 'https://rp.example.test/oauth2/callback';
const GRACE_PASSWORD = 'she signs in at ngrok';

describe('Admin console end to end (browser + relying party)', () => {
  let world: ConsoleWorld;
  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    await world.person('rory', 'read_only');
  });
  after(() => world?.close());

  test('an administrator creates a user and a group, adds the user, creates the ngrok app and binds the group; the user signs in at a real RP', async () => {
    const { page } = await world.signIn('ada', { path: '/users' });

    // A user, with a password.
    await page.getByRole('button', { name: 'Create user' }).click();
    const userDialog = page.getByRole('dialog', { name: 'Create user' });
    await userDialog.getByLabel('First name').fill('Grace');
    await userDialog.getByLabel('Last name').fill('Hopper');
    await userDialog.getByLabel('Username').fill('grace');
    await userDialog.getByLabel('Email').fill('grace@example.com');
    await userDialog.getByLabel(/^Password/).fill(GRACE_PASSWORD);
    await userDialog.getByRole('button', { name: 'Create user' }).click();
    await userDialog.waitFor({ state: 'detached' });

    // A group, and the user in it.
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'User Groups' }).click();
    await page.getByRole('button', { name: 'Create group' }).click();
    const groupDialog = page.getByRole('dialog', { name: 'Create user group' });
    await groupDialog.getByRole('textbox', { name: 'Name' }).fill('Tunnel Users');
    await groupDialog.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('heading', { name: 'Tunnel Users' }).waitFor();
    const picker = page.getByRole('combobox', { name: 'Add a user' });
    await picker.click();
    await picker.fill('grace');
    await page.getByRole('option', { name: /Grace Hopper \(grace\)/ }).click();
    await page.getByRole('button', { name: 'Add to group' }).click();
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();

    // The users list shows the membership.
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Users' }).click();
    const graceRow = page.getByRole('table', { name: 'Users' }).getByRole('row', { name: /Grace Hopper/ });
    await graceRow.getByText('Tunnel Users').waitFor();

    // The ngrok Custom OIDC App: Client Secret Basic, openid profile email, the RP's redirect URI, the group bound.
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'SSO Applications' }).click();
    await page.getByRole('link', { name: 'Add New Application' }).click();
    await page.getByRole('button', { name: 'Custom OIDC App' }).click();
    await page.getByLabel('Display Label').fill('ngrok');
    await page.getByRole('tab', { name: 'SSO' }).click();
    await page.getByLabel('Redirect URI 1', { exact: true }).fill(RP_CALLBACK);
    await page.getByLabel('Login URL').fill('https://myexample.ngrok.app');
    await page.getByLabel('Client Secret Basic').check();
    await page.getByLabel('Email', { exact: true }).check();
    await page.getByLabel('Profile', { exact: true }).check();
    await page.getByRole('tab', { name: 'User Groups' }).click();
    await page.getByLabel('Tunnel Users').check();
    await page.getByRole('button', { name: 'Activate' }).click();

    const secretDialog = page.getByRole('dialog', { name: 'Application Saved' });
    await secretDialog.waitFor();
    const clientId = await secretDialog.getByLabel('Client ID', { exact: true }).inputValue();
    const clientSecret = await secretDialog.getByLabel('Client Secret', { exact: true }).inputValue();
    await secretDialog.getByLabel('I have copied it to a safe place').check();
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    const issuer = await page.getByLabel('Issuer', { exact: true }).inputValue();

    // The relying party, configured only with what the console showed.
    const rp = await discover({ issuer, clientId, clientSecret, authMethod: 'client_secret_basic', redirectUri: RP_CALLBACK });
    const { tokens } = await signIn(rp, { redirectUri: RP_CALLBACK, scope: 'openid profile email', username: 'grace', password: GRACE_PASSWORD });
    const claims = tokens.claims();
    assert.equal(claims?.aud, clientId);
    assert.equal(claims?.email, 'grace@example.com');
    assert.equal(claims?.email_verified, true);
    assert.equal(claims?.preferred_username, 'grace');
    assert.equal(claims?.name, 'Grace Hopper');
    const userinfo = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 200);
    assert.equal(((await userinfo.json()) as { sub: string }).sub, claims?.sub);
  });

  test('a read_only administrator sees every screen but no write control, and a forced write is refused', async () => {
    const { directory } = world.gatehouse;
    const grace = await directory.users.get('grace');
    const group = await directory.groups.get('Tunnel Users');
    const app = await directory.apps.get('ngrok');
    const { page } = await world.signIn('rory', { path: '/users' });

    const WRITE = /^(\+ )?(Create|Add|Save|Delete|Remove|Suspend|Activate|Deactivate|Unlock|Reset|Set|Rotate|Revoke|Regenerate|Bind|Unbind|Upload|Edit)\b/;
    const screens = [
      { path: '/users', ready: page.getByRole('table', { name: 'Users' }) },
      { path: `/users/${grace.id}`, ready: page.getByRole('heading', { name: 'Grace Hopper' }) },
      { path: `/users/${grace.id}?tab=groups`, ready: page.getByRole('link', { name: 'Tunnel Users' }) },
      { path: '/groups', ready: page.getByRole('link', { name: 'Tunnel Users' }) },
      { path: `/groups/${group.id}`, ready: page.getByRole('heading', { name: 'Tunnel Users' }) },
      { path: `/groups/${group.id}?tab=users`, ready: page.getByRole('link', { name: 'Grace Hopper' }) },
      { path: `/groups/${group.id}?tab=apps`, ready: page.getByRole('link', { name: 'ngrok' }) },
      { path: '/apps', ready: page.getByRole('link', { name: 'ngrok' }) },
      { path: `/apps/${app.id}`, ready: page.getByRole('heading', { name: 'ngrok' }) },
      { path: '/security', ready: page.getByRole('tab', { name: 'Signing Keys' }) },
      { path: '/security?tab=api-keys', ready: page.getByRole('tab', { name: 'API Keys' }) },
      { path: '/audit', ready: page.getByRole('heading', { name: 'Audit Log' }) },
      { path: '/settings', ready: page.getByText('Only Administrators with Billing can change settings') },
    ];
    for (const screen of screens) {
      await page.goto(`${world.gatehouse.issuer}/admin${screen.path}`);
      await screen.ready.first().waitFor();
      await page.waitForLoadState('networkidle');
      const writes = await page.getByRole('button', { name: WRITE }).allTextContents();
      assert.deepEqual(writes, [], `no write button on ${screen.path}`);
      // Search boxes and the audit log's filters are for looking, not writing.
      const editable = page.getByRole('textbox').and(page.locator(':not([readonly])')).and(page.locator(':not([type=search])'));
      const labels = await editable.evaluateAll((inputs) => inputs.map((input) => (input as unknown as { labels?: ArrayLike<{ textContent: string | null }> }).labels?.[0]?.textContent ?? input.getAttribute('aria-label') ?? '?'));
      assert.deepEqual(labels.filter((label) => !/^(Search|Actor|Action|From|To)\b/i.test(label)), [], `no editable field on ${screen.path}`);
    }

    // The server is the real guard: a write sent with this person's console token is refused.
    const refused = await forceWrite(page, '/api/groups', { name: 'Sneaky' });
    assert.equal(refused.status, 403);
    assert.equal(refused.code, 'auth.forbidden');
    await assert.rejects(directory.groups.get('Sneaky'));
  });
});

/** Sends a write from inside the console's page, with the token the console holds. */
function forceWrite(page: Page, path: string, body: unknown): Promise<{ status: number; code: string }> {
  return page.evaluate(
    async ({ path, body }) => {
      const session = JSON.parse(sessionStorage.getItem('gatehouse.console.session') ?? '{}') as { accessToken?: string };
      const response = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, code: ((await response.json()) as { code: string }).code };
    },
    { path, body },
  );
}
