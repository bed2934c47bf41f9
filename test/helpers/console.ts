/**
 * The admin console in a real browser: a real Gatehouse (SQLite), Debian's Chromium, and people
 * who sign in through Gatehouse's own sign-in page, as administrators do.
 */
import type { BrowserContext, Page } from 'playwright-core';
import type { Role } from '../../src/directory/roles.ts';
import { type Chromium, launchChromium } from './chromium.ts';
import { type TestGatehouse, startGatehouse } from './gatehouse.ts';

export const PASSWORD = 'correct horse battery staple';

export interface ConsoleWorld {
  gatehouse: TestGatehouse;
  chromium: Chromium;
  /** Creates an activated person (with a role, or none) whose password is PASSWORD. */
  person(username: string, role: Role | null): Promise<{ id: string; username: string }>;
  /** A fresh browser profile, signed in to the console as `username`, on `path` (default: the start page). */
  signIn(username: string, options?: { path?: string; width?: number; height?: number }): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/** Fills in and submits Gatehouse's sign-in pages, identifier then password (the page must be showing the first). */
export async function submitSignIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.getByLabel('Username or email').fill(username);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function startConsoleWorld(): Promise<ConsoleWorld> {
  const gatehouse = await startGatehouse('sqlite');
  let chromium: Chromium;
  try {
    chromium = await launchChromium();
  } catch (error) {
    await gatehouse.close();
    throw error;
  }
  const contexts: BrowserContext[] = [];
  return {
    gatehouse,
    chromium,
    async person(username, role) {
      const user = await gatehouse.directory.users.create({ username, email: `${username}@example.com`, firstname: username[0]?.toUpperCase() + username.slice(1), lastname: 'Tester', password: PASSWORD, state: 'ACTIVATED', role });
      return { id: user.id, username: user.username };
    },
    async signIn(username, { path = '/', width, height } = {}) {
      const context = await chromium.newContext({ ...(width ? { width } : {}), ...(height ? { height } : {}) });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${gatehouse.issuer}/admin${path}`);
      await page.waitForURL(/\/interaction\//);
      await submitSignIn(page, username);
      await page.waitForURL((url) => url.pathname.startsWith('/admin/') && url.pathname !== '/admin/callback');
      return { context, page };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await chromium.close();
      await gatehouse.close();
    },
  };
}
