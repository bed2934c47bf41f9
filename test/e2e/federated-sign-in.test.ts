/**
 * Identifier-first sign-in and a federated sign-in in a real browser (Debian's Chromium): the first
 * page asks only who; a person routed to Entra goes there and comes back signed in to the console
 * (real cookies: the interaction's, the browser binding of the upstream flow, the session's); a
 * person who isn't routed gets the password step, with a way back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConsoleWorld, PASSWORD, startConsoleWorld } from '../helpers/console.ts';
import { type TestEntra, startEntra } from '../helpers/entra.ts';

describe('identifier-first and federated sign-in (browser)', () => {
  let world: ConsoleWorld;
  let entra: TestEntra;

  before(async () => {
    world = await startConsoleWorld();
    entra = await startEntra();
    const tenant = entra.addTenant();
    const registration = entra.registerApp({ redirectUris: [`${world.gatehouse.issuer}/oauth/callback`], authMethod: 'client_secret_post' });
    const { directory } = world.gatehouse;
    await directory.identityProviders.create({ name: 'Contoso Entra', type: 'entra', url: entra.tenantUrl(tenant), client_id: registration.clientId, client_secret: registration.clientSecret });
    await directory.groups.create('Entra users');
    await directory.routingPolicies.create({ name: 'Staff', identity_provider: 'Contoso Entra', user_groups: ['Entra users'] });
    const routed = await world.person('rhea', 'administrator');
    await directory.groups.addMember('Entra users', routed.id);
    entra.addPerson({ tenant, username: 'rhea@example.com', name: 'Rhea Routed', email: 'rhea@example.com', xms_edov: true });
    await world.person('paul', 'administrator');
  });
  after(async () => {
    await world?.close();
    await entra?.close();
  });

  test('a routed administrator types their email, signs in at Entra and lands in the console; no password is asked', async () => {
    const context = await world.chromium.newContext();
    const page = await context.newPage();
    await page.goto(`${world.gatehouse.issuer}/admin/`);
    await page.waitForURL(/\/interaction\//);
    assert.equal(await page.getByLabel('Password').count(), 0, 'the first step asks only who');
    await page.getByLabel('Username or email').fill('rhea@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/admin/') && url.pathname !== '/admin/callback');
    await page.getByRole('button', { name: 'Account menu' }).click();
    await page.getByText('Signed in as rhea@example.com').waitFor();
    const links = await world.gatehouse.directory.identityLinks.listForUser('rhea');
    assert.equal(links.length, 1);
    await context.close();
  });

  test('someone not routed gets the password step, can go back with "Not you?", and signs in with the password', async () => {
    const context = await world.chromium.newContext();
    const page = await context.newPage();
    await page.goto(`${world.gatehouse.issuer}/admin/`);
    await page.waitForURL(/\/interaction\//);
    await page.getByLabel('Username or email').fill('someone-else');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').waitFor();
    await page.getByText('someone-else', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Not you?' }).click();
    await page.getByLabel('Username or email').fill('paul');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/admin/') && url.pathname !== '/admin/callback');
    await page.getByRole('button', { name: 'Account menu' }).click();
    await page.getByText('Signed in as paul@example.com').waitFor();
    await context.close();
  });
});
