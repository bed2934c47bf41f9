/**
 * Signing in to the admin console, in a real browser: only administrators get in, others see
 * why; sign-out ends the Gatehouse session; an expired console token is renewed through Gatehouse
 * without asking again while the Gatehouse session lasts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConsoleWorld, startConsoleWorld, submitSignIn } from '../helpers/console.ts';

describe('Admin console sign-in (browser)', () => {
  let world: ConsoleWorld;
  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    await world.person('nell', null);
  });
  after(() => world?.close());

  test('a person without an administrator role is refused with a clear page, and nothing of the console loads', async () => {
    const context = await world.chromium.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${world.gatehouse.issuer}/admin/users`);
      await page.waitForURL(/\/interaction\//);
      await assert.doesNotReject(page.getByText('Gatehouse Admin Console').waitFor(), 'the sign-in page names the console');
      await submitSignIn(page, 'nell');
      await page.getByRole('heading', { name: "You don't have access to Gatehouse Admin Console" }).waitFor();
      assert.match(await page.textContent('body') ?? '', /only administrators can use the admin console/);
      // The sign-in page offers the person's own apps first (issue 11: no dead end).
      assert.equal(await page.getByRole('link', { name: 'Go to your apps' }).getAttribute('href'), `${world.gatehouse.issuer}/`);

      // Going back to the console: it is told access_denied and says so, with a way out.
      await page.getByRole('button', { name: /Return to/ }).click();
      await page.getByRole('heading', { name: "You don't have access to the admin console" }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/admin/callback');
      assert.equal(await page.getByRole('navigation', { name: 'Main navigation' }).count(), 0, 'no console navigation');
      await page.getByRole('button', { name: 'Sign out and use another account' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Go to your apps' }).getAttribute('href'), `${world.gatehouse.issuer}/`);
    } finally {
      await context.close();
    }
  });

  test('an administrator lands where they were going, sees who they are, and signs out of Gatehouse', async () => {
    const { page } = await world.signIn('ada', { path: '/groups' });
    assert.equal(new URL(page.url()).pathname, '/admin/groups', 'back at the page asked for');
    await page.getByRole('button', { name: 'Account menu' }).click();
    await page.getByText('Signed in as ada@example.com').waitFor();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/signed-out$/);
    await page.getByRole('heading', { name: 'You have signed out' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('gatehouse.console.session')), null, 'no token left in the tab');

    // The Gatehouse session is over too: signing in again starts from the sign-in page (who, then the password).
    await page.getByRole('button', { name: 'Sign in again' }).click();
    await page.waitForURL(/\/interaction\//);
    await page.getByLabel('Username or email').fill('ada');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Password').waitFor();
  });

  test('an expired console token is renewed through Gatehouse without asking again', async () => {
    const { page } = await world.signIn('ada', { path: '/users' });
    await page.getByRole('navigation', { name: 'Main navigation' }).waitFor();
    const before = await page.evaluate(() => sessionStorage.getItem('gatehouse.console.session'));
    assert.ok(before);
    // Age the token as an hour would, then use the console.
    await page.evaluate(() => {
      const session = JSON.parse(sessionStorage.getItem('gatehouse.console.session') ?? '{}');
      sessionStorage.setItem('gatehouse.console.session', JSON.stringify({ ...session, expiresAt: Date.now() - 1000 }));
    });
    await page.goto(`${world.gatehouse.issuer}/admin/apps`);
    await page.waitForURL(/\/admin\/apps$/);
    await page.getByRole('navigation', { name: 'Main navigation' }).waitFor();
    const after = await page.evaluate(() => sessionStorage.getItem('gatehouse.console.session'));
    assert.ok(after);
    assert.notEqual(JSON.parse(after).accessToken, JSON.parse(before).accessToken, 'a new token');
  });

  test('on a narrow window the navigation is behind a menu button', async () => {
    const { page } = await world.signIn('ada', { path: '/users', width: 400, height: 800 });
    const nav = page.getByRole('link', { name: 'SSO Applications' });
    // The collapsed drawer is slid off the left edge, not removed: it is out of sight when its box ends left of the window.
    const navigation = page.getByRole('navigation', { name: 'Main navigation' });
    const offScreen = async () => ((await navigation.boundingBox())?.x ?? 0) + ((await navigation.boundingBox())?.width ?? 0) <= 0;
    for (let tries = 0; !(await offScreen()) && tries < 50; tries++) await page.waitForTimeout(100);
    assert.ok(await offScreen(), 'navigation out of sight at first');
    await page.getByRole('button', { name: 'Toggle navigation' }).click();
    await nav.click();
    await page.waitForURL(/\/admin\/apps$/);
  });
});
