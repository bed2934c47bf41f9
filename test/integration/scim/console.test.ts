/**
 * The admin console's Security screen creates a SCIM key in a real browser (Chromium, SQLite):
 * the scope SCIM provisioning, the key shown once with the SCIM base URL to copy, the key working
 * under /scim/v2 and refused on /api; an owner whose role may not change users and groups gets no
 * SCIM scope to choose.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ConsoleWorld, startConsoleWorld } from '../../helpers/console.ts';

describe('console: a SCIM key from the Security screen', () => {
  let world: ConsoleWorld;

  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    await world.person('hal', 'help_desk');
  });
  after(() => world?.close());

  it('an administrator creates a SCIM key and copies the SCIM base URL with it', async () => {
    const { page } = await world.signIn('ada', { path: '/security?tab=api-keys' });
    await page.getByRole('button', { name: 'Create API key' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Create API key' });
    await dialog.getByLabel('Name').fill('Entra ID provisioning');
    await dialog.getByText('SCIM provisioning', { exact: true }).click();
    assert.match((await dialog.textContent()) ?? '', /only under \/scim\/v2/);
    await dialog.getByRole('button', { name: 'Create key' }).click();

    const secret = page.getByRole('dialog', { name: 'API key Entra ID provisioning created' });
    const key = await secret.getByLabel('API key', { exact: true }).inputValue();
    const baseUrl = await secret.getByLabel('SCIM base URL', { exact: true }).inputValue();
    assert.match(key, /^gh_/);
    assert.equal(baseUrl, `${world.gatehouse.issuer}/scim/v2`);
    assert.match((await secret.textContent()) ?? '', /Tenant URL/);

    const provisioning = await fetch(`${baseUrl}/Users?count=1`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(provisioning.status, 200);
    assert.match(provisioning.headers.get('content-type') ?? '', /^application\/scim\+json/);
    assert.equal((await fetch(`${world.gatehouse.issuer}/api/me`, { headers: { 'x-api-key': key } })).status, 403);

    await secret.getByLabel('I have copied it to a safe place').check();
    await secret.getByRole('button', { name: 'Done' }).click();
    await secret.waitFor({ state: 'hidden' });
    const row = page.getByRole('table', { name: 'API keys' }).locator('tbody tr').filter({ hasText: 'Entra ID provisioning' });
    await row.getByText('SCIM provisioning', { exact: true }).waitFor();
  });

  it('a help desk administrator cannot choose the SCIM scope', async () => {
    const { page } = await world.signIn('hal', { path: '/security?tab=api-keys' });
    await page.getByRole('button', { name: 'Create API key' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Create API key' });
    assert.equal(await dialog.getByRole('radio', { name: 'SCIM provisioning' }).isDisabled(), true);
  });
});
