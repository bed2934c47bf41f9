/**
 * Federation in the console (issue 10 §3): adding Microsoft Entra ID through the preset laid out as
 * JumpCloud's guide (seed 004), the callback URL to paste into Entra, Test connection against an
 * Entra-shaped provider, the write-only client secret, routing policies and their order, a user's
 * linked identities and externally managed password, and who may see these screens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';
import { type TestEntra, startEntra } from '../helpers/entra.ts';

const SECRET = 'entra-secret-value~0123456789abcdef';

/** Polls until `check` holds (the page updates after the request it made answers). */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const NEW_SECRET = 'rotated-entra-secret~fedcba9876543210';

describe('Identity Providers and Routing Policies in the console', () => {
  let world: ConsoleWorld;
  let entra: TestEntra;
  let page: Page;
  let tenant: string;
  let providerId: string;
  let meganId: string;

  before(async () => {
    entra = await startEntra();
    world = await startConsoleWorld();
    tenant = entra.addTenant();
    await world.person('bill', 'administrator_with_billing');
    await world.person('ada', 'administrator');
    const { directory } = world.gatehouse;
    const staff = await directory.groups.create('Contoso staff', 'People who sign in at Entra');
    await directory.groups.create('Contractors', 'Contractors from Entra');
    await directory.groups.create('Onboarding', 'New hires');
    const megan = await directory.users.create({ username: 'megan', email: 'megan@contoso.com', firstname: 'Megan', lastname: 'Bowen', password: 'a long enough password', state: 'ACTIVATED' });
    meganId = megan.id;
    await directory.groups.addMember(staff.id, megan.id);
    ({ page } = await world.signIn('bill', { path: '/identity-providers' }));
    page.setDefaultTimeout(15_000);
  });
  after(async () => {
    await world?.close();
    await entra?.close();
  });

  it('adds Microsoft Entra ID through the preset, in the seed’s order, with the callback URL to paste', async () => {
    const callbackUrl = `${world.gatehouse.issuer}/oauth/callback`;
    const app = entra.registerApp({ redirectUris: [callbackUrl], authMethod: 'client_secret_post', clientSecret: SECRET });
    await page.getByText('No identity providers yet').waitFor();
    await page.getByRole('button', { name: 'Add Identity Provider' }).first().click();
    await page.getByRole('menuitem', { name: 'Microsoft Entra ID' }).click();
    await page.getByRole('heading', { name: 'Add Microsoft Entra ID' }).waitFor();

    // JumpCloud's order: name, Entra IdP URL, client ID, client secret; then the redirect URI for Entra.
    const labels = (await page.locator('form label').allTextContents()).map((text) => text.replace(/\s*\*$/, '').trim());
    const order = ['Identity Provider Name', 'Entra IdP URL', 'Client ID', 'Client Secret', 'Redirect URI'].map((label) => labels.indexOf(label));
    assert.ok(
      order.every((index, i) => index >= 0 && (i === 0 || index > (order[i - 1] ?? -1))),
      `fields in the seed's order: ${labels.join(', ')}`,
    );
    assert.equal(await page.getByLabel('Redirect URI', { exact: true }).inputValue(), callbackUrl);

    // The mistakes the seed warns about are pointed out before anything is sent.
    const url = page.getByLabel('Entra IdP URL');
    await url.fill(`${entra.tenantUrl(tenant)}/oauth2/v2.0/authorize`);
    await url.blur();
    await page.getByText('leave out /oauth2/v2.0/authorize').waitFor();
    await url.fill(entra.tenantUrl('consumers'));
    await url.blur();
    await page.getByText('consumers) are not supported').waitFor();
    // common lets any tenant in: the allowed tenants appear, and are required.
    assert.equal(await page.getByRole('combobox', { name: 'Allowed tenants' }).count(), 0);
    await url.fill(entra.tenantUrl('common'));
    await page.getByRole('combobox', { name: 'Allowed tenants' }).waitFor();
    await url.fill(entra.tenantUrl(tenant));
    await page.getByRole('combobox', { name: 'Allowed tenants' }).waitFor({ state: 'detached' });

    await page.getByLabel('Identity Provider Name').fill('Entra OIDC');
    await page.getByLabel('Client ID').fill(app.clientId);
    await page.getByRole('textbox', { name: 'Client Secret' }).fill(SECRET);
    await page.getByRole('combobox', { name: 'Verified domains' }).fill('contoso.com');
    await page.getByRole('combobox', { name: 'Verified domains' }).press('Enter');
    await page.getByRole('button', { name: 'Save' }).click();

    await page.waitForURL(/\/admin\/identity-providers\/[0-9a-f]{24}$/);
    providerId = page.url().split('/').pop() ?? '';
    await page.getByRole('heading', { name: 'Entra OIDC' }).waitFor();
    const { directory } = world.gatehouse;
    const stored = await directory.identityProviders.get(providerId);
    assert.equal(stored.type, 'entra');
    assert.equal(stored.url, entra.tenantUrl(tenant));
    assert.equal(stored.client_id, app.clientId);
    assert.equal(stored.client_auth, 'client_secret_post', 'Entra’s default');
    assert.equal(stored.scopes, 'openid email profile');
    assert.equal(stored.first_login, 'link_existing');
    assert.deepEqual(stored.verified_domains, ['contoso.com']);
    assert.equal((await directory.identityProviders.upstream(providerId)).clientSecret, SECRET);

    // The page shows what to paste into Entra, and never the secret.
    assert.equal(await page.getByLabel('Callback URL', { exact: true }).inputValue(), callbackUrl);
    assert.equal(await page.getByLabel('Replace client secret').inputValue(), '');
    assert.ok(!(await page.content()).includes(SECRET), 'the client secret is not in the page');
  });

  it('tests the connection and shows what it found, then the problems of a broken one', async () => {
    await page.getByRole('button', { name: 'Test connection' }).click();
    const result = page.getByRole('region', { name: 'Test result' });
    await result.getByText('The connection works').waitFor();
    await result.getByText(entra.issuerFor(tenant), { exact: true }).waitFor();

    // A tenant that does not exist upstream: discovery fails, and the result says so.
    await page.getByLabel('Entra IdP URL').fill(entra.tenantUrl('6f2b0a4e-1c1d-4b4a-9b7e-1f2e3d4c5b6a'));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('"Entra OIDC" was saved.').waitFor();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await result.getByText('The connection has problems').waitFor();
    assert.ok((await result.getByRole('list', { name: 'Problems' }).getByRole('listitem').count()) > 0);

    await page.getByLabel('Entra IdP URL').fill(entra.tenantUrl(tenant));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await result.getByText('The connection works').waitFor();
  });

  it('replaces the write-only secret, and disables and enables the provider', async () => {
    const { directory } = world.gatehouse;
    await page.getByLabel('Replace client secret').fill(NEW_SECRET);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('"Entra OIDC" was saved.').last().waitFor();
    await eventually(async () => (await page.getByLabel('Replace client secret').inputValue()) === '', 'the replace field empties after saving');
    assert.equal((await directory.identityProviders.upstream(providerId)).clientSecret, NEW_SECRET);
    assert.ok(!(await page.content()).includes(NEW_SECRET));

    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog', { name: 'Disable this identity provider?' }).getByRole('button', { name: 'Disable' }).click();
    await page.getByText('This identity provider is disabled').waitFor();
    assert.equal((await directory.identityProviders.get(providerId)).enabled, false);
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByText('This identity provider is disabled').waitFor({ state: 'detached' });
    assert.equal((await directory.identityProviders.get(providerId)).enabled, true);
  });

  it('makes routing policies and orders them with the up and down buttons', async () => {
    const { directory } = world.gatehouse;
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Routing Policies' }).click();
    await page.getByText('No routing policies yet').waitFor();

    const addPolicy = async (name: string, groups: string[]) => {
      await page.getByRole('button', { name: 'Add Routing Policy' }).first().click();
      const dialog = page.getByRole('dialog', { name: 'Add routing policy' });
      await dialog.getByLabel('Policy name').fill(name);
      // The only provider is chosen already.
      assert.equal(await dialog.getByRole('textbox', { name: 'Identity provider' }).or(dialog.getByRole('combobox', { name: 'Identity provider' })).first().inputValue(), 'Entra OIDC');
      for (const group of groups) {
        await dialog.getByRole('textbox', { name: 'User groups' }).or(dialog.getByRole('combobox', { name: 'User groups' })).first().fill(group);
        await page.getByRole('option', { name: group, exact: true }).click();
      }
      // Close the groups' list by clicking elsewhere in the dialog.
      await dialog.getByLabel('Policy name').click();
      await dialog.getByRole('button', { name: 'Add policy' }).click();
      await dialog.waitFor({ state: 'detached' });
    };
    await addPolicy('Contoso staff at Entra', ['Contoso staff', 'Onboarding']);
    await addPolicy('Contractors at Entra', ['Contractors']);

    const rowNames = () => page.getByTestId('routing-policy-row').locator('td:nth-child(2)').allTextContents();
    await page.getByTestId('routing-policy-row').nth(1).waitFor();
    assert.deepEqual(await rowNames(), ['Contoso staff at Entra', 'Contractors at Entra']);
    const policies = await directory.routingPolicies.list();
    assert.deepEqual(
      policies.map((policy) => [policy.name, policy.identity_provider.name, policy.user_groups.map((group) => group.name).sort()]),
      [
        ['Contoso staff at Entra', 'Entra OIDC', ['Contoso staff', 'Onboarding']],
        ['Contractors at Entra', 'Entra OIDC', ['Contractors']],
      ],
    );
    assert.ok(await page.getByRole('button', { name: 'Move Contoso staff at Entra up' }).isDisabled(), 'the first policy cannot move up');

    await page.getByRole('button', { name: 'Move Contractors at Entra up' }).click();
    await page.getByTestId('routing-policy-row').first().filter({ hasText: 'Contractors at Entra' }).waitFor();
    assert.deepEqual(
      (await directory.routingPolicies.list()).map((policy) => [policy.name, policy.priority]),
      [
        ['Contractors at Entra', 1],
        ['Contoso staff at Entra', 2],
      ],
    );
    await page.getByRole('button', { name: 'Move Contractors at Entra down' }).click();
    await page.getByTestId('routing-policy-row').first().filter({ hasText: 'Contoso staff at Entra' }).waitFor();
    assert.deepEqual(
      (await directory.routingPolicies.list()).map((policy) => policy.name),
      ['Contoso staff at Entra', 'Contractors at Entra'],
    );
    assert.equal((await directory.routingPolicies.routeFor(meganId))?.id, providerId, 'Megan is now routed to Entra');

    // Editing keeps what is there and adds to it.
    await page.getByRole('button', { name: 'Edit Contractors at Entra' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit routing policy' });
    await dialog.getByText('Contractors', { exact: true }).waitFor();
    await dialog.getByRole('textbox', { name: 'User groups' }).or(dialog.getByRole('combobox', { name: 'User groups' })).first().fill('Onboarding');
    await page.getByRole('option', { name: 'Onboarding', exact: true }).click();
    await dialog.getByLabel('Policy name').click();
    await dialog.getByRole('button', { name: 'Save policy' }).click();
    await dialog.waitFor({ state: 'detached' });
    const edited = await directory.routingPolicies.get('Contractors at Entra');
    assert.deepEqual(edited.user_groups.map((group) => group.name).sort(), ['Contractors', 'Onboarding']);
    assert.equal(edited.priority, 2, 'editing leaves the order alone');
  });

  it('refuses to delete a provider a policy uses, then deletes a policy after confirmation', async () => {
    const { directory } = world.gatehouse;
    await page.getByRole('button', { name: 'Delete Contractors at Entra' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this routing policy?' });
    await dialog.getByText('"Contractors"').waitFor();
    await dialog.getByRole('button', { name: 'Delete policy' }).click();
    await page.getByText('"Contractors at Entra" was deleted.').waitFor();
    assert.deepEqual(
      (await directory.routingPolicies.list()).map((policy) => policy.name),
      ['Contoso staff at Entra'],
    );

    await page.goto(`${world.gatehouse.issuer}/admin/identity-providers/${providerId}`);
    // The provider's page names the policy that still uses it.
    await page.getByText('Members of these policies’ user groups sign in here').getByRole('link', { name: 'Contoso staff at Entra' }).waitFor();
    await page.getByRole('button', { name: 'Delete IdP' }).click();
    await page.getByRole('dialog', { name: 'Delete this identity provider?' }).getByRole('button', { name: 'Yes, Delete' }).click();
    await page.getByText('change or delete it first').waitFor();
    assert.equal((await directory.identityProviders.get(providerId)).name, 'Entra OIDC');
  });

  it('shows a routed user’s linked identities and externally managed password, and removes a link', async () => {
    const { directory } = world.gatehouse;
    const oid = '0b9f8a52-6a5e-4e55-9c4f-2d1b7b0a9e11';
    await directory.identityLinks.create({ user_id: meganId, identity_provider_id: providerId, issuer: tenant, subject: oid, email: 'megan@contoso.com' });

    await page.goto(`${world.gatehouse.issuer}/admin/users/${meganId}`);
    await page.getByRole('heading', { name: 'Megan Bowen' }).waitFor();
    const notice = page.getByRole('alert').filter({ hasText: 'Externally managed password' });
    await notice.getByText('Entra OIDC').waitFor();
    assert.equal(await page.getByRole('button', { name: /Reset password|Set password/ }).count(), 0, 'no password to reset here');
    await page.getByText('Externally managed at Entra OIDC').waitFor();

    await page.getByRole('tab', { name: 'Linked Identities' }).click();
    const table = page.getByRole('table', { name: 'Linked identities' });
    const row = table.getByRole('row').filter({ hasText: oid });
    await row.getByText('megan@contoso.com').waitFor();
    await row.getByText('Entra OIDC').waitFor();

    await row.getByRole('button', { name: 'Remove link to Entra OIDC' }).click();
    await page.getByRole('dialog', { name: 'Remove this link?' }).getByRole('button', { name: 'Remove link' }).click();
    await page.getByText('No linked identities').waitFor();
    assert.deepEqual(await directory.identityLinks.listForUser(meganId), []);
  });

  it('a user outside every policy keeps the password actions and no notice', async () => {
    const { directory } = world.gatehouse;
    const ada = await directory.users.get('ada');
    await page.goto(`${world.gatehouse.issuer}/admin/users/${ada.id}`);
    await page.getByRole('button', { name: 'Reset password' }).waitFor();
    await page.getByRole('tab', { name: 'Linked Identities' }).click();
    await page.getByText('No linked identities').waitFor();
    assert.equal(await page.getByText('Externally managed password').count(), 0);
  });

  it('is for Administrators with Billing only: an Administrator sees neither screen', async () => {
    const { page: adminPage } = await world.signIn('ada', { path: '/users' });
    const navigation = adminPage.getByRole('navigation', { name: 'Main navigation' });
    await navigation.getByRole('link', { name: 'Users' }).waitFor();
    assert.equal(await navigation.getByRole('link', { name: 'Identity Providers' }).count(), 0);
    assert.equal(await navigation.getByRole('link', { name: 'Routing Policies' }).count(), 0);
    await adminPage.goto(`${world.gatehouse.issuer}/admin/identity-providers`);
    await adminPage.getByText('Only Administrators with Billing can manage identity providers').waitFor();
    await adminPage.goto(`${world.gatehouse.issuer}/admin/routing-policies`);
    await adminPage.getByText('Only Administrators with Billing can manage routing policies').waitFor();
  });
  it('adds a generic OpenID provider that creates users on first sign-in, and places a domain rule conflict under its field', async () => {
    const { directory } = world.gatehouse;
    await page.goto(`${world.gatehouse.issuer}/admin/identity-providers`);
    await page.getByRole('button', { name: 'Add Identity Provider' }).first().click();
    await page.getByRole('menuitem', { name: 'OpenID Connect provider' }).click();
    await page.getByRole('heading', { name: 'Add OpenID Connect provider' }).waitFor();
    assert.equal(await page.getByLabel('Entra IdP URL').count(), 0, 'no Entra fields');
    assert.equal(await page.getByRole('combobox', { name: 'Verified domains' }).count(), 0);
    assert.ok(await page.getByLabel('Client Secret Basic').isChecked(), 'Basic is the OpenID default');

    await page.getByLabel('Identity Provider Name').fill('Contractor SSO');
    const issuer = page.getByLabel('Issuer URL');
    await issuer.fill('http://sso.contractors.example.net');
    await issuer.blur();
    await page.getByText('Use https://').waitFor();
    await issuer.fill('https://sso.contractors.example.net');
    await page.getByLabel('Client ID').fill('gatehouse');
    await page.getByRole('textbox', { name: 'Client Secret' }).fill(SECRET);
    await page.getByLabel('Link, or create the user when nobody matches').check();
    await page.getByRole('combobox', { name: 'Groups for new users' }).fill('Contractors');
    await page.getByRole('option', { name: 'Contractors', exact: true }).click();
    await page.getByLabel('Identity Provider Name').click();
    await page.getByRole('combobox', { name: 'Home-realm domains' }).fill('contractors.example.net');
    await page.getByRole('combobox', { name: 'Home-realm domains' }).press('Enter');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Contractor SSO' }).waitFor();

    const stored = await directory.identityProviders.get('Contractor SSO');
    assert.equal(stored.type, 'oidc');
    assert.equal(stored.issuer, 'https://sso.contractors.example.net');
    assert.equal(stored.client_auth, 'client_secret_basic');
    assert.equal(stored.first_login, 'create');
    assert.deepEqual(stored.jit_groups, [(await directory.groups.get('Contractors')).id]);
    assert.deepEqual(stored.home_realm_domains, ['contractors.example.net']);

    // The same domain rule on the Entra provider is refused, next to the field.
    await page.goto(`${world.gatehouse.issuer}/admin/identity-providers/${providerId}`);
    await page.getByRole('combobox', { name: 'Home-realm domains' }).fill('contractors.example.net');
    await page.getByRole('combobox', { name: 'Home-realm domains' }).press('Enter');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('already sends people to "Contractor SSO"').waitFor();
    assert.equal(await page.getByRole('combobox', { name: 'Home-realm domains' }).getAttribute('aria-invalid'), 'true');
    assert.deepEqual((await directory.identityProviders.get(providerId)).home_realm_domains, []);
  });
  it('adds a multi-tenant Entra provider only with its allowed tenants, and tests it against the {tenantid} template', async () => {
    const { directory } = world.gatehouse;
    const app = entra.registerApp({ redirectUris: [`${world.gatehouse.issuer}/oauth/callback`], clientSecret: SECRET });
    await page.goto(`${world.gatehouse.issuer}/admin/identity-providers/new?type=entra`);
    await page.getByLabel('Identity Provider Name').fill('Entra partners');
    await page.getByLabel('Entra IdP URL').fill(entra.tenantUrl('organizations'));
    await page.getByLabel('Client ID').fill(app.clientId);
    await page.getByRole('textbox', { name: 'Client Secret' }).fill(SECRET);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('list the tenant IDs whose people may sign in').waitFor();
    const tenants = page.getByRole('combobox', { name: 'Allowed tenants' });
    await tenants.fill('not-a-guid');
    await tenants.press('Enter');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('"not-a-guid" is not a tenant ID').waitFor();
    // Backspace in the empty box takes the last tenant off again.
    await tenants.press('Backspace');
    await tenants.fill(tenant);
    await tenants.press('Enter');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Entra partners' }).waitFor();
    const stored = await directory.identityProviders.get('Entra partners');
    assert.deepEqual(stored.allowed_tenants, [tenant]);
    assert.equal(stored.issuer, null, 'a multi-tenant provider has no one issuer');

    await page.getByRole('button', { name: 'Test connection' }).click();
    const result = page.getByRole('region', { name: 'Test result' });
    await result.getByText('The connection works').waitFor();
    await result.getByText(`${entra.origin}/{tenantid}/v2.0`, { exact: true }).waitFor();
  });
});
