/**
 * The admin console's Users screens in a real browser: an administrator creates a user with a
 * password (seeing validation as they type), finds them by search, edits them, suspends and
 * activates them, and deletes them; a read-only administrator sees the same screens without a
 * single write control.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { totpCode } from '../../src/authn/totp.ts';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';

const NEW_PASSWORD = 'a sturdy new password';

/** The write controls of the Users screens, by their accessible names. */
const WRITE_BUTTONS = /^(Create user|Create a user|Save changes|Discard changes|Save role|Delete user|Suspend|Activate|Unlock|Reset password|Set password|Add attribute|Add)$/;

/**
 * Presses a header action from the keyboard: the notification of the previous step sits over the
 * top-right corner for a few seconds and would take a mouse click.
 */
const press = (page: Page, name: string) => page.getByRole('button', { name, exact: true }).press('Enter');

async function expectNoWriteControls(page: Page, where: string): Promise<void> {
  assert.equal(await page.getByRole('button', { name: WRITE_BUTTONS }).count(), 0, `no write button on ${where}`);
  assert.equal(await page.getByRole('textbox').and(page.locator(':not([readonly])')).and(page.locator(':not([type=search])')).count(), 0, `no editable field on ${where}`);
}

describe('console: users', () => {
  let world: ConsoleWorld;
  let bobId: string;

  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    await world.person('rosa', 'read_only');
    const directory = world.gatehouse.directory;
    const bob = await directory.users.create({ username: 'bob', email: 'bob@example.com', firstname: 'Bob', lastname: 'Builder', attributes: { cost_centre: 'CC-12' } });
    bobId = bob.id;
    const group = await directory.groups.create('Engineering');
    await directory.groups.addMember(group.id, bob.id);
  });
  after(() => world?.close());

  it('lets an administrator create, find, edit, suspend, activate and delete a user', async () => {
    const { page } = await world.signIn('ada', { path: '/users' });
    await page.getByRole('table', { name: 'Users' }).getByRole('link', { name: 'Bob Builder' }).waitFor();

    // Create, with validation shown while typing.
    await page.getByRole('button', { name: 'Create user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('First name').fill('Grace');
    await dialog.getByLabel('Last name').fill('Hopper');
    await dialog.getByLabel('Username').fill('grace');
    await dialog.getByLabel('Email').fill('grace@');
    await dialog.getByText('Enter a valid email address').waitFor();
    await dialog.getByLabel('Email').fill('grace@example.com');
    await dialog.getByText('Enter a valid email address').waitFor({ state: 'detached' });
    await dialog.getByLabel(/^Password/).fill('short');
    await dialog.getByText('Passwords need at least 8 characters.').waitFor();
    await dialog.getByLabel(/^Password/).fill(NEW_PASSWORD);
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('Created user grace.').waitFor();
    await dialog.waitFor({ state: 'detached' });
    const created = await world.gatehouse.directory.users.get('grace');
    assert.equal(created.email, 'grace@example.com');
    assert.equal(created.state, 'ACTIVATED');
    assert.equal((await world.gatehouse.directory.users.signIn('grace', NEW_PASSWORD)).ok, true, 'the password typed in the console works');

    // Find by search; the search lives in the URL, so a reload keeps it.
    await page.getByLabel('Search users').fill('hopp');
    await page.waitForURL(/[?&]search=hopp/);
    const table = page.getByRole('table', { name: 'Users' });
    await table.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    await table.getByRole('link', { name: 'Bob Builder' }).waitFor({ state: 'detached' });
    await page.reload();
    assert.equal(await page.getByLabel('Search users').inputValue(), 'hopp');
    await page.getByLabel('Search users').fill('nobody-like-this');
    await page.getByText('No users match “nobody-like-this”').waitFor();
    await page.getByLabel('Search users').fill('grace');
    await table.getByRole('link', { name: 'Grace Hopper' }).click();
    await page.waitForURL(`**/admin/users/${created.id}`);

    // Edit a profile field and add a custom attribute.
    await page.getByRole('heading', { name: 'Grace Hopper' }).waitFor();
    await page.getByLabel('Display name').fill('Amazing Grace');
    await page.getByRole('button', { name: 'Add attribute' }).click();
    await page.getByLabel('Attribute 1 name').fill('9lives');
    await page.getByText('A letter, then letters, digits').waitFor();
    await page.getByLabel('Attribute 1 name').fill('employee_no');
    await page.getByLabel('Attribute 1 value').fill('4711');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Amazing Grace' }).waitFor();
    const edited = await world.gatehouse.directory.users.get(created.id);
    assert.equal(edited.displayname, 'Amazing Grace');
    assert.deepEqual(edited.attributes, { employee_no: '4711' });

    // Suspend (asks first), then activate.
    await press(page, 'Suspend');
    const confirmSuspend = page.getByRole('dialog', { name: 'Suspend user?' });
    await confirmSuspend.getByRole('button', { name: 'Suspend user' }).click();
    await page.getByRole('button', { name: 'Activate' }).waitFor();
    assert.equal((await world.gatehouse.directory.users.get(created.id)).state, 'SUSPENDED');
    await press(page, 'Activate');
    await page.getByRole('button', { name: 'Suspend' }).waitFor();
    assert.equal((await world.gatehouse.directory.users.get(created.id)).state, 'ACTIVATED');

    // Reset the password, and make them a read-only administrator (roles above one's own can't be chosen).
    await press(page, 'Reset password');
    const resetDialog = page.getByRole('dialog', { name: 'Reset password' });
    await resetDialog.getByLabel(/^New password/).fill('another password');
    await resetDialog.getByLabel(/^Repeat the new password/).fill('another password');
    await resetDialog.getByRole('button', { name: 'Set password' }).click();
    await resetDialog.waitFor({ state: 'detached' });
    assert.equal((await world.gatehouse.directory.users.signIn('grace', 'another password')).ok, true);
    await page.getByRole('combobox', { name: 'Role' }).click();
    assert.equal(await page.getByRole('option', { name: 'Administrator with Billing' }).getAttribute('aria-disabled'), 'true');
    await page.getByRole('option', { name: 'Read Only' }).click();
    await page.getByRole('button', { name: 'Save role' }).click();
    await page.getByRole('dialog', { name: 'Change administrator role?' }).getByRole('button', { name: 'Change role' }).click();
    await page.getByText('Amazing Grace is now Read Only.').waitFor();
    assert.equal((await world.gatehouse.directory.users.get(created.id)).role, 'read_only');

    // Delete: cancelling keeps the user; confirming deletes them and returns to the list.
    await press(page, 'Delete user');
    await page.getByRole('dialog', { name: 'Delete user?' }).getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog', { name: 'Delete user?' }).waitFor({ state: 'detached' });
    assert.equal((await world.gatehouse.directory.users.get(created.id)).id, created.id);
    await press(page, 'Delete user');
    await page.getByRole('dialog', { name: 'Delete user?' }).getByRole('button', { name: 'Delete user' }).click();
    await page.waitForURL(/\/admin\/users$/);
    await page.getByText('Deleted Amazing Grace.').waitFor();
    await assert.rejects(world.gatehouse.directory.users.get(created.id), /No user matches/);
  });

  it('shows a read-only administrator the users and a user without any write control', async () => {
    const { page } = await world.signIn('rosa', { path: '/users' });
    const table = page.getByRole('table', { name: 'Users' });
    await table.getByRole('link', { name: 'Bob Builder' }).waitFor();
    await expectNoWriteControls(page, 'the users list');

    await table.getByRole('link', { name: 'Bob Builder' }).click();
    await page.getByRole('heading', { name: 'Bob Builder' }).waitFor();
    await page.getByText('CC-12').waitFor();
    await expectNoWriteControls(page, 'the Details tab');

    await page.getByRole('tab', { name: 'User Groups' }).click();
    await page.getByRole('table', { name: 'User groups' }).getByRole('link', { name: 'Engineering' }).waitFor();
    await expectNoWriteControls(page, 'the User Groups tab');
    assert.equal(await page.getByRole('button', { name: /^Remove from/ }).count(), 0);

    await page.getByRole('tab', { name: 'Applications' }).click();
    await page.getByText('No applications').waitFor();
    assert.match(page.url(), new RegExp(`/admin/users/${bobId}\\?tab=apps$`));
  });

  it('shows the apps a user sees in the User Portal, launch URLs included', async () => {
    const directory = world.gatehouse.directory;
    const engineering = await directory.groups.get('Engineering');
    const { app: wiki } = await directory.apps.create({ label: 'Team Wiki', description: 'Notes and runbooks', redirect_uris: ['https://wiki.example.test/callback'], login_url: 'https://wiki.example.test/login' });
    await directory.apps.bind(wiki.id, engineering.id);
    const { app: hidden } = await directory.apps.create({ label: 'Hidden Tool', redirect_uris: ['https://hidden.example.test/callback'], login_url: 'https://hidden.example.test/', show_in_portal: false });
    await directory.apps.bind(hidden.id, engineering.id);

    const { page } = await world.signIn('rosa', { path: `/users/${bobId}` });
    await page.getByRole('tab', { name: 'User Portal' }).click();
    const table = page.getByRole('table', { name: 'Apps in the User Portal' });
    await table.getByRole('link', { name: 'Team Wiki' }).waitFor();
    await table.getByText('Notes and runbooks').waitFor();
    await table.getByText(`https://wiki.example.test/login?iss=${encodeURIComponent(world.gatehouse.issuer)}`).waitFor();
    assert.equal(await table.getByText('Hidden Tool').count(), 0, 'an app hidden from the portal is not listed');
    assert.match(page.url(), new RegExp(`/admin/users/${bobId}\\?tab=portal$`));

    // A suspended user's portal is empty, and the tab says why.
    await directory.users.suspend(bobId);
    try {
      await page.reload();
      await page.getByText('No apps in the User Portal').waitFor();
      await page.getByText(/can't sign in right now \(suspended\)/).waitFor();
    } finally {
      await directory.users.activate(bobId);
    }
  });
  it('shows a user’s sign-in methods without a secret, and the help desk resets them; a read-only administrator cannot', async () => {
    const directory = world.gatehouse.directory;
    const factors = world.gatehouse.runtime.factors;
    const carol = await directory.users.create({ username: 'carol', email: 'carol@example.com', firstname: 'Carol', lastname: 'Shaw' });
    const { secret } = await factors.beginTotp(carol.id, { issuer: 'Gatehouse', account: 'carol' });
    await factors.confirmTotp(carol.id, totpCode(secret, Date.now()));
    await factors.regenerateRecoveryCodes(carol.id);

    const reader = await world.signIn('rosa', { path: `/users/${carol.id}?tab=sign-in-methods` });
    const readerTable = reader.page.getByRole('table', { name: 'Sign-in methods' });
    await readerTable.getByText('Authenticator app').waitFor();
    await readerTable.getByText('Recovery codes (10 of 10 left)').waitFor();
    assert.equal(await reader.page.getByRole('button', { name: 'Reset sign-in methods' }).count(), 0);
    assert.ok(!(await reader.page.content()).includes(secret), 'no secret on the page');

    const { page } = await world.signIn('ada', { path: `/users/${carol.id}?tab=sign-in-methods` });
    await page.getByRole('table', { name: 'Sign-in methods' }).getByText('Authenticator app').waitFor();
    await page.getByRole('button', { name: 'Reset sign-in methods' }).click();
    await page.getByRole('dialog', { name: 'Reset sign-in methods?' }).getByRole('button', { name: 'Reset sign-in methods' }).click();
    await page.getByText('No second factor').waitFor();
    assert.deepEqual(await factors.summary(carol.id), { totp: null, recovery_codes: null, passkeys: [] });
    const [event] = (await directory.audit.list({ action: 'user.factors_reset', limit: 1, offset: 0 })).events;
    assert.equal(event?.target?.id, carol.id);
    assert.equal(event?.actor.type, 'user');
  });
});
