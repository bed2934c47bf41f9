/**
 * The refresh-token reuse interval in the console: shown next to the refresh-token options only
 * while refresh tokens are on, checked as it is typed (0-60 seconds), and saved.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';

describe('refresh-token reuse interval in the console', () => {
  let world: ConsoleWorld;
  let page: Page;
  let appId: string;

  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    const { app } = await world.gatehouse.directory.apps.create({ label: 'Tabs', redirect_uris: ['https://tabs.example.com/cb'], refresh_token: false });
    appId = app.id;
    ({ page } = await world.signIn('ada', { path: `/apps/${appId}` }));
  });
  after(() => world?.close());

  it('appears with refresh tokens, refuses more than 60 seconds, and saves', async () => {
    await page.getByRole('tab', { name: 'SSO' }).click();
    const interval = page.getByLabel('Refresh token reuse interval (seconds)');
    assert.equal(await interval.count(), 0, 'hidden while refresh tokens are off');
    await page.getByLabel('Refresh Token', { exact: true }).check();
    assert.equal(await interval.inputValue(), '0');

    await interval.fill('61');
    await page.getByText('Whole seconds from 0 to 60.').waitFor();
    await interval.fill('10');
    await page.getByText('Whole seconds from 0 to 60.').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Save' }).click();
    for (let i = 0; i < 50 && (await world.gatehouse.directory.apps.get(appId)).refresh_token_reuse_interval !== 10; i++) await page.waitForTimeout(100);
    const saved = await world.gatehouse.directory.apps.get(appId);
    assert.equal(saved.refresh_token, true);
    assert.equal(saved.refresh_token_reuse_interval, 10);

    await page.reload();
    await page.getByRole('tab', { name: 'SSO' }).click();
    assert.equal(await page.getByLabel('Refresh token reuse interval (seconds)').inputValue(), '10');
  });
});
