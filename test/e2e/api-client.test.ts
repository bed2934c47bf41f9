/**
 * The console's typed API client (web/src/api.ts) in a real browser: a token the API refuses (401)
 * sends the person through Gatehouse's sign-in, which, while their Gatehouse session lasts, comes
 * straight back with a new token and asks for nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';

describe('console API client (browser)', () => {
  let world: ConsoleWorld;
  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
  });
  after(() => world?.close());

  test('a token the API refuses with 401 is replaced through Gatehouse without asking again', async () => {
    const { page } = await world.signIn('ada', { path: '/users' });
    await page.getByRole('navigation', { name: 'Main navigation' }).waitFor();
    // Not expired as far as the console knows, so it is sent; the API does not know it.
    await page.evaluate(() => {
      const session = JSON.parse(sessionStorage.getItem('gatehouse.console.session') ?? '{}');
      sessionStorage.setItem('gatehouse.console.session', JSON.stringify({ ...session, accessToken: 'not-a-token-gatehouse-issued', expiresAt: Date.now() + 3600_000 }));
    });
    const refused: string[] = [];
    page.on('response', (response) => {
      if (response.status() === 401 && new URL(response.url()).pathname.startsWith('/api/')) refused.push(new URL(response.url()).pathname);
    });

    await page.goto(`${world.gatehouse.issuer}/admin/apps`);
    // Back where they were going, with nothing filled in on the way.
    await page.waitForURL((url) => url.pathname === '/admin/apps' && !url.search);
    await page.getByRole('navigation', { name: 'Main navigation' }).waitFor();
    assert.deepEqual(refused, ['/api/me'], 'the refused token was sent, once');
    const after = JSON.parse((await page.evaluate(() => sessionStorage.getItem('gatehouse.console.session'))) ?? '{}') as { accessToken?: string };
    assert.ok(after.accessToken && after.accessToken !== 'not-a-token-gatehouse-issued', 'a new token');
    // And it works: the apps list loaded through the API with it.
    await page.getByText('No SSO applications yet').waitFor();
  });
});
