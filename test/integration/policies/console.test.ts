/**
 * The console's Access Policies page in a real browser (Chromium): an administrator with billing
 * adds policies with the editor (chosen apps and groups, CIDR lists, require MFA with a grace
 * period; the portal denied after a federated sign-in), sees the default policy last, reorders with
 * up/down, disables and deletes; an administrator without billing does not get the page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type ConsoleWorld, startConsoleWorld } from '../../helpers/console.ts';

async function choose(page: Page, dialog: ReturnType<Page['getByRole']>, label: string, option: string) {
  await dialog.getByRole('textbox', { name: label, exact: true }).or(dialog.getByRole('combobox', { name: label, exact: true })).first().click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

describe('Access Policies in the console', () => {
  let world: ConsoleWorld;
  let page: Page;

  before(async () => {
    world = await startConsoleWorld();
    await world.person('bill', 'administrator_with_billing');
    await world.person('ada', 'administrator');
    const { directory } = world.gatehouse;
    await directory.groups.create('Finance');
    await directory.apps.create({ label: 'Payroll', redirect_uris: ['https://payroll.example/cb'] });
    ({ page } = await world.signIn('bill', { path: '/' }));
    page.setDefaultTimeout(15_000);
  });
  after(() => world?.close());

  it('adds policies with the editor, shows the default last, reorders, disables and deletes', async () => {
    const { directory } = world.gatehouse;
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Access Policies' }).click();
    await page.getByText('No access policies yet').waitFor();
    await page.getByTestId('default-policy-row').filter({ hasText: 'Default policy' }).waitFor();

    await page.getByRole('button', { name: 'Add Access Policy' }).first().click();
    let dialog = page.getByRole('dialog', { name: 'Add access policy' });
    await dialog.getByLabel('Policy name').fill('Finance MFA');
    await choose(page, dialog, 'Resource', 'Chosen apps');
    await dialog.getByRole('textbox', { name: 'Apps' }).or(dialog.getByRole('combobox', { name: 'Apps' })).first().fill('Payroll');
    await page.getByRole('option', { name: 'Payroll', exact: true }).click();
    await dialog.getByLabel('Policy name').click();
    await choose(page, dialog, 'Who', 'Members of chosen user groups');
    await dialog.getByRole('textbox', { name: 'User groups' }).or(dialog.getByRole('combobox', { name: 'User groups' })).first().fill('Finance');
    await page.getByRole('option', { name: 'Finance', exact: true }).click();
    await dialog.getByLabel('Policy name').click();
    await dialog.getByLabel('Client address not in').fill('10.0.0.0/8\n2001:db8::/32');
    await dialog.getByLabel('Enrolment grace period (days)').fill('14');
    await dialog.getByRole('button', { name: 'Add policy' }).click();
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Add Access Policy' }).first().click();
    dialog = page.getByRole('dialog', { name: 'Add access policy' });
    await dialog.getByLabel('Policy name').fill('No portal after Entra');
    await choose(page, dialog, 'Resource', 'The user portal');
    await choose(page, dialog, 'Sign-in', 'Signed in through an identity provider');
    await choose(page, dialog, 'Action', 'Deny');
    await dialog.getByLabel('Client address in').fill('not-an-address');
    await dialog.getByRole('button', { name: 'Add policy' }).click();
    await dialog.getByText(/is not a CIDR block/).waitFor();
    await dialog.getByLabel('Client address in').fill('');
    await dialog.getByRole('button', { name: 'Add policy' }).click();
    await dialog.waitFor({ state: 'detached' });

    const rowNames = () => page.getByTestId('access-policy-row').locator('td:nth-child(2)').allTextContents();
    await page.getByTestId('access-policy-row').nth(1).waitFor();
    assert.deepEqual(await rowNames(), ['Finance MFA', 'No portal after Entra']);
    const [mfa, portal] = await directory.accessPolicies.list();
    assert.deepEqual(
      { resource: mfa?.resource, apps: mfa?.apps.map((a) => a.label), groups: mfa?.user_groups.map((g) => g.name), not_in: mfa?.addresses_not_in, action: mfa?.action, grace: mfa?.grace_days },
      { resource: 'apps', apps: ['Payroll'], groups: ['Finance'], not_in: ['10.0.0.0/8', '2001:db8::/32'], action: 'require_mfa', grace: 14 },
    );
    assert.deepEqual({ resource: portal?.resource, sign_in: portal?.sign_in, action: portal?.action, users: portal?.users }, { resource: 'portal', sign_in: 'federated', action: 'deny', users: 'all' });

    await page.getByRole('button', { name: 'Move No portal after Entra up' }).click();
    await page.getByTestId('access-policy-row').first().filter({ hasText: 'No portal after Entra' }).waitFor();
    assert.deepEqual((await directory.accessPolicies.list()).map((p) => `${p.position} ${p.name}`), ['1 No portal after Entra', '2 Finance MFA']);

    await page.getByRole('switch', { name: 'Finance MFA enabled' }).click({ force: true });
    const deadline = Date.now() + 10_000;
    while ((await directory.accessPolicies.get('Finance MFA')).enabled && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await directory.accessPolicies.get('Finance MFA')).enabled, false);

    await page.getByRole('button', { name: 'Delete No portal after Entra' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete policy' }).click();
    await page.getByTestId('access-policy-row').filter({ hasText: 'No portal after Entra' }).waitFor({ state: 'detached' });
    assert.deepEqual((await directory.accessPolicies.list()).map((p) => `${p.position} ${p.name}`), ['1 Finance MFA']);
  });

  it('is for administrators with billing only', async () => {
    const { page: adaPage } = await world.signIn('ada', { path: '/' });
    assert.equal(await adaPage.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Access Policies' }).count(), 0);
    await adaPage.goto(`${world.gatehouse.issuer}/admin/policies`);
    await adaPage.getByText(/Administrators with billing/i).first().waitFor();
  });
});
