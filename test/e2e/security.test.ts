/**
 * The admin console's Security, Audit Log and Settings screens in a real browser: signing-key
 * rotation, an API key's whole life (created, shown once, used, revoked, dead), the audit trail of
 * it all with filters kept in the URL, organisation settings as an Administrator with Billing (the
 * name shows on the sign-in page), and a Read Only administrator who sees everything but no write control.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';

/** Waits for a condition the page reaches on its own (a refetch, a debounced filter). */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The key id in the signing-key row with this state badge. */
async function kidIn(table: Locator, state: 'Current' | 'Next' | 'Previous'): Promise<string[]> {
  const rows = table.locator('tbody tr').filter({ has: table.page().getByText(state, { exact: true }) });
  return (await rows.locator('td:first-child').allTextContents()).map((text) => text.trim());
}

const actionsShown = async (page: Page) => (await page.getByRole('table', { name: 'Audit events' }).locator('tbody tr code').allTextContents()).map((text) => text.trim());

describe('console: Security, Audit Log and Settings', () => {
  let world: ConsoleWorld;
  const callMe = (key: string) => fetch(`${world.gatehouse.issuer}/api/me`, { headers: { 'x-api-key': key } });

  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    await world.person('bea', 'administrator_with_billing');
    const rita = await world.person('rita', 'read_only');
    // A key of her own, made elsewhere: she sees it but gets no Revoke control for it.
    await world.gatehouse.directory.apiKeys.create({ owner: rita.id, name: 'rita reports', scope: 'read_only' });
  });
  after(() => world?.close());

  it('an administrator rotates the signing keys, creates an API key that works, and revokes it', async () => {
    const { page } = await world.signIn('ada', { path: '/security' });
    const signingKeys = page.getByRole('table', { name: 'Signing keys' });
    await signingKeys.locator('tbody tr').first().waitFor();
    const [current] = await kidIn(signingKeys, 'Current');
    const [next] = await kidIn(signingKeys, 'Next');
    assert.ok(current && next, 'a current and a next key are listed');

    await page.getByRole('button', { name: 'Rotate', exact: true }).click();
    const rotateDialog = page.getByRole('dialog', { name: 'Rotate the signing keys?' });
    assert.match((await rotateDialog.textContent()) ?? '', /becomes current[\s\S]*stays published until the tokens it signed have expired/);
    await rotateDialog.getByRole('button', { name: 'Rotate keys' }).click();
    await eventually(async () => (await kidIn(signingKeys, 'Current'))[0] === next, 'the next key to become current');
    assert.deepEqual(await kidIn(signingKeys, 'Previous'), [current], 'the old current key stays published as previous');
    const [freshNext] = await kidIn(signingKeys, 'Next');
    assert.ok(freshNext && freshNext !== current && freshNext !== next, 'a fresh next key is published');

    await page.getByRole('tab', { name: 'API Keys' }).click();
    assert.match(page.url(), /\?tab=api-keys$/, 'the tab is in the URL');
    await page.getByRole('button', { name: 'Create API key' }).first().click();
    const createDialog = page.getByRole('dialog', { name: 'Create API key' });
    await createDialog.getByRole('button', { name: 'Create key' }).click();
    assert.equal(await createDialog.getByLabel('Name').getAttribute('aria-invalid'), 'true', 'a name is required');
    await createDialog.getByLabel('Name').fill('e2e deploy script');
    await createDialog.getByLabel('Expires').fill('2099-12-31');
    await createDialog.getByRole('button', { name: 'Create key' }).click();

    const secretDialog = page.getByRole('dialog', { name: 'API key e2e deploy script created' });
    const key = await secretDialog.getByLabel('API key', { exact: true }).inputValue();
    assert.match(key, /^gh_/);
    const me = await callMe(key);
    assert.equal(me.status, 200, 'the new key calls the API');
    assert.equal(((await me.json()) as { user: { username: string } }).user.username, 'ada');
    assert.equal(await secretDialog.getByRole('button', { name: 'Done' }).isDisabled(), true, 'the dialog stays until the key is saved');
    await secretDialog.getByLabel('I have copied it to a safe place').check();
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await secretDialog.waitFor({ state: 'hidden' });

    const row = page.getByRole('table', { name: 'API keys' }).locator('tbody tr').filter({ hasText: 'e2e deploy script' });
    assert.match((await row.textContent()) ?? '', /ada \(you\)[\s\S]*Read & write[\s\S]*2099[\s\S]*Active/i);
    assert.equal(await page.getByText(key).count(), 0, 'the key itself is never shown again');
    await row.getByRole('button', { name: 'Revoke API key e2e deploy script' }).click();
    const revokeDialog = page.getByRole('dialog', { name: 'Revoke the API key e2e deploy script?' });
    assert.match((await revokeDialog.textContent()) ?? '', /stops working at once/);
    await revokeDialog.getByRole('button', { name: 'Revoke key' }).click();
    await row.getByText('Revoked', { exact: true }).waitFor();
    assert.equal(await row.getByRole('button', { name: /Revoke/ }).count(), 0, 'a revoked key has nothing left to revoke');
    assert.equal((await callMe(key)).status, 401, 'the revoked key no longer works');
  });

  it('the audit log shows those events and filters them, the filters kept in the URL', async () => {
    const { page } = await world.signIn('ada', { path: '/audit' });
    const events = page.getByRole('table', { name: 'Audit events' });
    await events.locator('tbody tr').first().waitFor();
    const all = await actionsShown(page);
    for (const action of ['keys.rotate', 'api_key.create', 'api_key.revoke']) assert.ok(all.includes(action), `${action} is listed: ${all}`);

    const action = page.getByRole('combobox', { name: 'Action' });
    await action.fill('API keys');
    await page.getByText('An action such as user.create, or user.* for every user action').waitFor();
    await action.fill('api_key.*');
    await action.press('Escape');
    await page.waitForURL(/action=api_key\.\*/);
    await eventually(async () => (await actionsShown(page)).join() === 'api_key.revoke,api_key.create', 'only the API key events');

    // Details and user agent open in the row.
    await page.getByRole('button', { name: /^Show details of api_key\.create/ }).click();
    const details = page.getByLabel('Event details');
    assert.match((await details.textContent()) ?? '', /"scope": "read_write"/);
    assert.match((await events.textContent()) ?? '', /User agent\s*Mozilla/);

    // The URL alone brings the filtered view back.
    await page.reload();
    await events.locator('tbody tr').first().waitFor();
    assert.equal(await action.inputValue(), 'api_key.*');
    assert.deepEqual(await actionsShown(page), ['api_key.revoke', 'api_key.create']);

    await page.getByLabel('Actor').fill('nobody-like-this');
    await page.getByText('No events match these filters').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).last().click();
    await eventually(async () => (await actionsShown(page)).includes('keys.rotate'), 'every event again');
    assert.equal(await page.getByLabel('Actor').inputValue(), '');
    assert.doesNotMatch(page.url(), /action=|actor=/);
  });

  it('an Administrator with Billing changes the organisation name, a token lifetime, the password rules and the lockout; the sign-in page shows the name', async () => {
    const { page } = await world.signIn('bea', { path: '/settings' });
    const name = page.getByLabel('Organisation name');
    await name.waitFor();
    assert.equal(await name.inputValue(), 'Gatehouse');
    await name.fill('Acme Corporation');

    const accessToken = page.getByLabel('Access token lifetime', { exact: true });
    assert.equal(await accessToken.inputValue(), '1');
    assert.equal(await page.getByLabel('Access token lifetime unit').inputValue(), 'hours');
    await accessToken.fill('48');
    assert.equal(await accessToken.getAttribute('aria-invalid'), 'true', 'more than a day is out of range');
    await page.getByText('From 1 minute to 1 day', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Save settings' }).click();
    assert.equal((await world.gatehouse.directory.settings.get()).organisation_name, 'Gatehouse', 'nothing is saved while a field is wrong');

    await accessToken.fill('30');
    await page.getByLabel('Access token lifetime unit').selectOption('minutes');
    assert.equal(await accessToken.getAttribute('aria-invalid'), null);
    const displayNames = page.getByRole('switch', { name: 'People may edit their display name' });
    assert.equal(await displayNames.isChecked(), false, 'off by default');
    await displayNames.check();
    // The password rules and the lockout (issue 12 §4), with their defaults.
    assert.equal(await page.getByLabel('Minimum password length').inputValue(), '12 characters');
    const common = page.getByRole('switch', { name: 'Refuse common passwords' });
    assert.equal(await common.isChecked(), true, 'on by default');
    assert.equal(await page.getByRole('switch', { name: 'Refuse passwords containing the username or email' }).isChecked(), true);
    await common.uncheck();
    const lockAfter = page.getByLabel('Lock after');
    assert.equal(await lockAfter.inputValue(), '10 failures');
    await lockAfter.fill('2');
    assert.equal(await lockAfter.getAttribute('aria-invalid'), 'true', 'fewer than 3 is out of range');
    await lockAfter.fill('5');
    const lockoutWindow = page.getByLabel('Failures count for', { exact: true });
    assert.equal(await lockoutWindow.inputValue(), '12');
    assert.equal(await page.getByLabel('Failures count for unit').inputValue(), 'hours');
    await lockoutWindow.fill('30');
    await page.getByLabel('Failures count for unit').selectOption('minutes');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved.').waitFor();
    const saved = await world.gatehouse.directory.settings.get();
    assert.equal(saved.password_reject_common, false);
    assert.equal(saved.password_reject_personal, true);
    assert.equal(saved.lockout_threshold, 5);
    assert.equal(saved.lockout_window, 1800);
    assert.equal(saved.organisation_name, 'Acme Corporation');
    assert.equal(saved.access_token_ttl, 1800);
    assert.equal(saved.id_token_ttl, 3600, 'fields left alone are not sent');
    assert.equal(saved.users_may_edit_displayname, true);

    // A fresh browser on the console lands on Gatehouse's sign-in page, under the new name.
    const context = await world.chromium.newContext();
    try {
      const signInPage = await context.newPage();
      // Servers pick settings up within seconds.
      await eventually(async () => {
        await signInPage.goto(`${world.gatehouse.issuer}/admin/`);
        await signInPage.waitForURL(/\/interaction\//);
        return ((await signInPage.locator('.brand').textContent()) ?? '').trim() === 'Acme Corporation';
      }, 'the new name on the sign-in page');
      await signInPage.getByLabel('Username or email').waitFor();
    } finally {
      await context.close();
    }
  });

  it('a Read Only administrator sees signing keys, API keys and the audit log, but no control that changes them', async () => {
    const { page } = await world.signIn('rita', { path: '/security', width: 400 });
    const signingKeys = page.getByRole('table', { name: 'Signing keys' });
    await signingKeys.locator('tbody tr').first().waitFor();
    assert.equal((await kidIn(signingKeys, 'Current')).length, 1);
    assert.equal(await page.getByRole('button', { name: 'Rotate' }).count(), 0);

    await page.getByRole('tab', { name: 'API Keys' }).click();
    const keys = page.getByRole('table', { name: 'API keys' });
    await keys.getByText('rita reports').waitFor();
    assert.equal(await keys.getByText('e2e deploy script').count(), 0, 'only her own keys');
    assert.equal(await keys.getByRole('columnheader', { name: 'Owner' }).count(), 0, 'no owner column for her own keys');
    assert.equal(await page.getByRole('button', { name: /Create API key|Revoke/ }).count(), 0);

    await page.goto(`${world.gatehouse.issuer}/admin/audit`);
    await page.getByRole('table', { name: 'Audit events' }).locator('tbody tr').first().waitFor();

    await page.goto(`${world.gatehouse.issuer}/admin/settings`);
    await page.getByText('Only Administrators with Billing can change settings').waitFor();
    assert.equal(await page.getByLabel('Organisation name').count(), 0);
  });
});
