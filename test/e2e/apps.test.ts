/**
 * The SSO Applications screens in a real browser: adding a Custom OIDC App the way JumpCloud's
 * ngrok guide walks through it, the one-time client secret (proved at the token endpoint), checks
 * as the administrator types, editing, regenerating the secret, deactivating and deleting, a public
 * client, and a read-only administrator who sees no write control.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';

const NGROK_CALLBACK = 'https://idp.ngrok.com/oauth2/callback';
/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('SSO Applications in the console', () => {
  let world: ConsoleWorld;
  let page: Page;
  let appId: string;
  let clientId: string;
  let clientSecret: string;

  /**
   * What the token endpoint says to these credentials with a made-up code: invalid_grant means the
   * client authenticated (only the code was wrong), invalid_client that the secret was refused.
   */
  async function tokenEndpointVerdict(id: string, secret: string): Promise<string> {
    const response = await fetch(`${world.gatehouse.issuer}/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-real-code', redirect_uri: NGROK_CALLBACK }),
    });
    return ((await response.json()) as { error: string }).error;
  }

  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    await world.person('rory', 'read_only');
    ({ page } = await world.signIn('ada', { path: '/apps' }));
  });
  after(() => world?.close());

  it('adds the ngrok Custom OIDC App and shows its client secret once', async () => {
    await page.getByText('No SSO applications yet').waitFor();
    await page.getByRole('link', { name: 'Add New Application' }).click();
    await page.getByRole('button', { name: 'Custom OIDC App' }).click();

    // General Info: the label, and an icon checked before it is sent.
    await page.getByLabel('Display Label').fill('ngrok oidc');
    const iconInput = page.locator('input[type="file"]');
    await iconInput.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.concat([PNG, Buffer.alloc(300 * 1024)]) });
    await page.getByText('an icon is at most 256 KiB').waitFor();
    await iconInput.setInputFiles({ name: 'ngrok.png', mimeType: 'image/png', buffer: PNG });
    await page.getByText('an icon is at most 256 KiB').waitFor({ state: 'detached' });

    // SSO: a bad redirect URI is pointed out as it is typed, before anything is sent.
    await page.getByRole('tab', { name: 'SSO' }).click();
    const redirectUri = page.getByLabel('Redirect URI 1', { exact: true });
    await redirectUri.fill('/oauth2/callback');
    await page.getByText('Enter an absolute URL').waitFor();
    assert.equal(await redirectUri.getAttribute('aria-invalid'), 'true');
    await redirectUri.fill(`${NGROK_CALLBACK}#section`);
    await page.getByText('Remove the fragment').waitFor();
    // A * is refused (URIs are matched exactly); plain http to another host is allowed, with a warning under the field.
    await redirectUri.fill('https://*.ngrok.com/oauth2/callback');
    await page.getByText('Remove the *').waitFor();
    assert.equal(await redirectUri.getAttribute('aria-invalid'), 'true');
    await redirectUri.fill('http://idp.ngrok.com/oauth2/callback');
    await page.getByText('Remove the *').waitFor({ state: 'detached' });
    await page.getByText('Plain http to another host').waitFor();
    assert.notEqual(await redirectUri.getAttribute('aria-invalid'), 'true');
    await redirectUri.fill('http://localhost:3000/oauth2/callback');
    await page.getByText('Plain http to another host').waitFor({ state: 'detached' });
    await redirectUri.fill(NGROK_CALLBACK);
    await page.getByText('Remove the fragment').waitFor({ state: 'detached' });
    assert.notEqual(await redirectUri.getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Login URL').fill('https://myexample.ngrok.app');
    assert.ok(await page.getByLabel('Show in User Portal').isChecked(), 'shown in the portal by default once there is a Login URL');
    assert.ok(await page.getByLabel('Send iss on launch').isChecked(), 'iss is sent by default');
    assert.ok(await page.getByLabel('Client Secret Basic').isChecked(), 'Client Secret Basic is the default');
    await page.getByLabel('Email', { exact: true }).check();
    await page.getByLabel('Profile', { exact: true }).check();

    // User Groups: nobody gets in until a group is bound.
    await page.getByRole('tab', { name: 'User Groups' }).click();
    await page.getByLabel('All Users').check();
    await page.getByRole('button', { name: 'Activate' }).click();

    const dialog = page.getByRole('dialog', { name: 'Application Saved' });
    await dialog.waitFor();
    await dialog.getByText('cannot be retrieved later').waitFor();
    clientId = await dialog.getByLabel('Client ID', { exact: true }).inputValue();
    clientSecret = await dialog.getByLabel('Client Secret', { exact: true }).inputValue();
    assert.match(clientSecret, /^[A-Za-z0-9_-]{43}$/);
    const done = dialog.getByRole('button', { name: 'Done' });
    assert.ok(await done.isDisabled(), 'closing needs the "copied" box ticked');
    await dialog.getByLabel('I have copied it to a safe place').check();
    await done.click();
    await page.waitForURL(/\/admin\/apps\/[0-9a-f]{24}$/);
    appId = page.url().split('/').pop() ?? '';

    const { directory } = world.gatehouse;
    const app = await directory.apps.get(appId);
    assert.equal(app.client_id, clientId);
    assert.equal(app.label, 'ngrok oidc');
    assert.deepEqual(app.redirect_uris, [NGROK_CALLBACK]);
    assert.equal(app.login_url, 'https://myexample.ngrok.app');
    assert.equal(app.show_in_portal, true);
    assert.equal(app.send_iss_on_launch, true);
    assert.equal(app.auth_method, 'client_secret_basic');
    assert.deepEqual([...app.scopes].sort(), ['email', 'profile']);
    assert.equal(app.icon?.mediaType, 'image/png');
    assert.deepEqual((await directory.groups.boundToApp(appId)).map((group) => group.name), ['All Users']);
    assert.equal(await tokenEndpointVerdict(clientId, clientSecret), 'invalid_grant', 'the secret from the dialog authenticates the app');
    assert.equal(await tokenEndpointVerdict(clientId, `${clientSecret.slice(0, -1)}x`), 'invalid_client');

    // The app's page has what to paste into ngrok.
    await page.getByText('Issuer & discovery').waitFor();
    assert.equal(await page.getByLabel('Issuer', { exact: true }).inputValue(), world.gatehouse.issuer);
    assert.equal(await page.getByLabel('Discovery URL', { exact: true }).inputValue(), `${world.gatehouse.issuer}/.well-known/openid-configuration`);
  });

  it('edits the label, regenerates the secret after a confirmation, deactivates and deletes', async () => {
    await page.getByRole('tab', { name: 'General Info' }).click();
    await page.getByLabel('Display Label').fill('ngrok tunnel');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'ngrok tunnel' }).waitFor();
    assert.equal((await world.gatehouse.directory.apps.get(appId)).label, 'ngrok tunnel');

    // The portal settings: a one-line description, and the tile hidden; both there after a reload.
    const description = page.getByLabel('Description', { exact: true });
    await description.fill('Tunnels\nto the lab');
    await page.getByText('no line breaks or tabs').waitFor();
    await description.fill('Tunnels to the lab');
    await page.getByText('no line breaks or tabs').waitFor({ state: 'detached' });
    await page.getByRole('tab', { name: 'SSO' }).click();
    await page.getByLabel('Show in User Portal').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    for (let tries = 0; (await world.gatehouse.directory.apps.get(appId)).show_in_portal && tries < 50; tries++) await page.waitForTimeout(100);
    const saved = await world.gatehouse.directory.apps.get(appId);
    assert.equal(saved.description, 'Tunnels to the lab');
    assert.equal(saved.show_in_portal, false);
    await page.reload();
    await page.getByRole('tab', { name: 'General Info' }).click();
    assert.equal(await page.getByLabel('Description', { exact: true }).inputValue(), 'Tunnels to the lab');
    await page.getByRole('tab', { name: 'SSO' }).click();
    assert.equal(await page.getByLabel('Show in User Portal').isChecked(), false);
    assert.ok(await page.getByLabel('Send iss on launch').isChecked());

    await page.getByRole('button', { name: 'Regenerate client secret' }).click();
    await page.getByRole('dialog', { name: 'Regenerate the client secret?' }).getByRole('button', { name: 'Regenerate secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'New client secret' });
    const newSecret = await dialog.getByLabel('Client Secret', { exact: true }).inputValue();
    assert.notEqual(newSecret, clientSecret);
    assert.equal(await tokenEndpointVerdict(clientId, clientSecret), 'invalid_client', 'the old secret stops working');
    assert.equal(await tokenEndpointVerdict(clientId, newSecret), 'invalid_grant');
    await dialog.getByLabel('I have copied it to a safe place').check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('dialog', { name: 'Deactivate this application?' }).getByRole('button', { name: 'Deactivate' }).click();
    await page.getByText('This application is inactive').waitFor();
    assert.equal((await world.gatehouse.directory.apps.get(appId)).active, false);

    await page.getByRole('button', { name: 'Delete' }).click();
    const confirmDelete = page.getByRole('dialog', { name: 'Delete this application?' });
    await confirmDelete.getByRole('button', { name: 'Cancel' }).click();
    await confirmDelete.waitFor({ state: 'detached' });
    assert.equal((await world.gatehouse.directory.apps.get(appId)).label, 'ngrok tunnel', 'cancelling keeps the app');
    await page.getByRole('button', { name: 'Delete' }).click();
    await confirmDelete.getByRole('button', { name: 'Delete application' }).click();
    await page.waitForURL(/\/admin\/apps$/);
    await assert.rejects(world.gatehouse.directory.apps.get(appId), /not found|no app/i);
  });

  it('a public client (None PKCE) gets a client ID and no secret', async () => {
    await page.goto(`${world.gatehouse.issuer}/admin/apps/new?type=oidc`);
    await page.getByLabel('Display Label').fill('SingleStore');
    await page.getByRole('tab', { name: 'SSO' }).click();
    await page.getByLabel('Redirect URI 1', { exact: true }).fill('https://portal.singlestore.com/oauth/callback');
    await page.getByLabel('Public (None PKCE)').check();
    await page.getByLabel('Refresh Token').check();
    await page.getByRole('button', { name: 'Activate' }).click();
    const dialog = page.getByRole('dialog', { name: 'Application Saved' });
    await dialog.getByText('public client').waitFor();
    assert.match(await dialog.getByLabel('Client ID', { exact: true }).inputValue(), /^[0-9a-f-]{36}$/);
    assert.equal(await dialog.getByLabel('Client Secret', { exact: true }).count(), 0);
    await dialog.getByLabel('I have copied it to a safe place').check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByText('Issuer & discovery').waitFor();
    assert.equal(await page.getByRole('button', { name: /client secret/i }).count(), 0, 'nothing to regenerate');
    const app = await world.gatehouse.directory.apps.get('SingleStore');
    assert.equal(app.auth_method, 'none');
    assert.equal(app.has_client_secret, false);
    assert.equal(app.refresh_token, true);
  });

  it("puts the API's field errors next to the field, on its tab", async () => {
    await page.goto(`${world.gatehouse.issuer}/admin/apps/new?type=oidc`);
    await page.getByLabel('Display Label').fill('Defguard');
    await page.getByRole('tab', { name: 'SSO' }).click();
    await page.getByLabel('Redirect URI 1', { exact: true }).fill('https://defguard.example.net/auth/callback');
    await page.getByRole('button', { name: 'Add Redirect URI' }).click();
    await page.getByLabel('Redirect URI 2', { exact: true }).fill('https://defguard.example.net/openid/callback');
    await page.getByRole('tab', { name: 'General Info' }).click();
    // A rule the console does not know yet: the server's word is shown where it belongs.
    await page.route('**/api/apps', (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({
            status: 400,
            contentType: 'application/json',
            body: JSON.stringify({ code: 'app.invalid_uri', message: 'Invalid app.', details: [{ path: 'redirect_uris[1]', message: 'That host is not allowed here.' }] }),
          })
        : route.fallback(),
    );
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByText('That host is not allowed here.').waitFor();
    assert.equal(await page.getByRole('tab', { name: /SSO/ }).getAttribute('aria-selected'), 'true');
    assert.equal(await page.getByLabel('Redirect URI 2', { exact: true }).getAttribute('aria-invalid'), 'true');
    await page.unroute('**/api/apps');
  });

  it('a read-only administrator sees every setting and no write control', async () => {
    const { app } = await world.gatehouse.directory.apps.create({ label: 'Hoop', redirect_uris: ['https://hoop.example.com/api/callback'], groups_claim: 'https://app.hoop.dev/groups' });
    const { page: readOnly } = await world.signIn('rory', { path: '/apps' });
    await readOnly.getByRole('link', { name: 'Hoop' }).waitFor();
    assert.equal(await readOnly.getByRole('link', { name: 'Add New Application' }).count(), 0);
    await readOnly.getByLabel('Search applications').fill('hoo');
    await readOnly.getByRole('link', { name: 'SingleStore' }).waitFor({ state: 'detached' });
    assert.match(readOnly.url(), /search=hoo/);
    await readOnly.getByRole('link', { name: 'Hoop' }).click();
    await readOnly.getByText('Issuer & discovery').waitFor();
    assert.equal(await readOnly.getByLabel('Client ID', { exact: true }).first().inputValue(), app.client_id);
    for (const name of ['Save', 'Delete', 'Deactivate', 'Regenerate client secret']) {
      assert.equal(await readOnly.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
    }
    await readOnly.getByRole('tab', { name: 'SSO' }).click();
    assert.equal(await readOnly.getByLabel('Group attribute name').inputValue(), 'https://app.hoop.dev/groups');
    assert.equal(await readOnly.getByLabel('Group attribute name').getAttribute('readonly'), '');
    assert.equal(await readOnly.getByRole('button', { name: 'Add Redirect URI' }).count(), 0);
  });
});
