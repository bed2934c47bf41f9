/**
 * The User Groups screens of the admin console, in a real browser: an administrator creates a group
 * (a taken name is shown next to the field), adds a member with the picker, binds and unbinds an app,
 * removes the member, renames and deletes the group, each destructive step confirmed first; All Users
 * offers no rename, delete or membership controls but can be bound; a read-only administrator sees
 * everything and no write control.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import type { App } from '../../src/directory/apps.ts';
import type { UserGroup } from '../../src/directory/groups.ts';
import { ALL_USERS_GROUP } from '../../src/storage/migrations/001_initial.ts';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console.ts';

/** The text of what describes a field (its description and its error), as a screen reader announces it. */
async function describedBy(page: Page, field: Locator): Promise<string> {
  const ids = ((await field.getAttribute('aria-describedby')) ?? '').split(/\s+/).filter(Boolean);
  const texts = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).textContent()));
  return texts.join(' ');
}

/** Asks the dialog's question, then answers with its confirm button. */
async function confirmDialog(page: Page, title: string | RegExp, confirmLabel: string): Promise<void> {
  const dialog = page.getByRole('dialog', { name: title });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: confirmLabel }).click();
  await dialog.waitFor({ state: 'hidden' });
}

/** Picks the option matching `option` in a searchable picker after typing `search`. */
async function pick(page: Page, label: string, search: string, option: RegExp): Promise<void> {
  const box = page.getByRole('combobox', { name: label });
  await box.click();
  await box.fill(search);
  await page.getByRole('option', { name: option }).click();
}

describe('User Groups (browser)', () => {
  let world: ConsoleWorld;
  let finance: UserGroup;
  let payroll: App;
  before(async () => {
    world = await startConsoleWorld();
    await world.person('ada', 'administrator');
    await world.person('rita', 'read_only');
    const { directory } = world.gatehouse;
    const grace = await directory.users.create({ username: 'grace', email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper' });
    finance = await directory.groups.create('Finance', 'Counts the money');
    await directory.groups.addMember(finance.id, grace.id);
    payroll = (await directory.apps.create({ label: 'Payroll', redirect_uris: ['https://payroll.example.com/cb'] })).app;
    await directory.apps.bind(payroll.id, finance.id);
  });
  after(() => world?.close());

  test('an administrator creates a group, adds a member, binds and unbinds an app, removes the member, renames and deletes it', async () => {
    const { directory } = world.gatehouse;
    const { page } = await world.signIn('ada', { path: '/groups' });
    await page.getByRole('link', { name: 'Finance' }).waitFor();

    // A taken name (in other capitals) is refused next to the field.
    await page.getByRole('button', { name: 'Create group' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create user group' });
    const name = dialog.getByRole('textbox', { name: 'Name' });
    await name.fill('finance');
    await dialog.getByRole('button', { name: 'Create group' }).click();
    // Either the check as you type ("Finance", as stored) or the server's 409 ("finance", as typed) says so, whichever is first.
    await dialog.getByText(/A group named "finance" already exists\./i).waitFor();
    assert.match(await describedBy(page, name), /A group named "finance" already exists\./i);
    assert.equal(await name.getAttribute('aria-invalid'), 'true');

    // Emptying the name is caught while typing.
    await name.fill('');
    await dialog.getByText('Enter a name for the group.').waitFor();

    await name.fill('Platform Team');
    await dialog.getByRole('textbox', { name: 'Description' }).fill('Runs the platform');
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('heading', { name: 'Platform Team' }).waitFor();
    const group = await directory.groups.get('Platform Team');
    assert.equal(group.description, 'Runs the platform');
    assert.equal(new URL(page.url()).pathname, `/admin/groups/${group.id}`);

    // Straight to its Users tab, which says what to do next; a seeded user is added with the picker.
    await page.getByText('Add users to this group').waitFor();
    await pick(page, 'Add a user', 'hopper', /Grace Hopper \(grace\)/);
    await page.getByRole('button', { name: 'Add to group' }).click();
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    assert.deepEqual(await directory.groups.memberIds(group.id), [(await directory.users.get('grace')).id]);

    // Applications: empty, then the seeded app is bound.
    await page.getByRole('tab', { name: 'Applications' }).click();
    await page.getByText('Bind an application so members can sign in to it.').waitFor();
    await pick(page, 'Bind an application', 'pay', /^Payroll/);
    await page.getByRole('button', { name: 'Bind application' }).click();
    await page.getByRole('link', { name: 'Payroll' }).waitFor();
    assert.ok((await directory.apps.boundGroups(payroll.id)).some((g) => g.id === group.id));

    // Unbinding asks first: cancelling keeps the binding.
    await page.getByRole('button', { name: 'Unbind Payroll' }).click();
    await confirmDialog(page, 'Unbind "Payroll"?', 'Cancel');
    assert.ok((await directory.apps.boundGroups(payroll.id)).some((g) => g.id === group.id), 'still bound after Cancel');
    await page.getByRole('button', { name: 'Unbind Payroll' }).click();
    await confirmDialog(page, 'Unbind "Payroll"?', 'Unbind application');
    await page.getByText('Bind an application so members can sign in to it.').waitFor();
    assert.ok(!(await directory.apps.boundGroups(payroll.id)).some((g) => g.id === group.id));

    // Removing the member asks first.
    await page.getByRole('tab', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Remove grace from group' }).click();
    await confirmDialog(page, 'Remove grace from "Platform Team"?', 'Remove from group');
    await page.getByText('Add users to this group').waitFor();
    assert.deepEqual(await directory.groups.memberIds(group.id), []);

    // Rename.
    await page.getByRole('tab', { name: 'Details' }).click();
    const rename = page.getByRole('textbox', { name: 'Name' });
    await rename.fill('Platform');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Platform', exact: true }).waitFor();
    assert.equal((await directory.groups.get(group.id)).name, 'Platform');

    // Delete, confirmed; back on the list, the group is gone.
    await page.getByRole('button', { name: 'Delete group' }).click();
    await confirmDialog(page, 'Delete "Platform"?', 'Delete group');
    await page.waitForURL((url) => url.pathname === '/admin/groups');
    await page.getByRole('link', { name: 'Finance' }).waitFor();
    // The list may show its cached page for a moment before the refetch lands.
    await page.getByRole('link', { name: 'Platform', exact: true }).waitFor({ state: 'detached' });
    await assert.rejects(directory.groups.get(group.id), /No group matches/);
  });

  test('All Users has no rename, delete or membership controls, says why, and can still be bound', async () => {
    const { page } = await world.signIn('ada', { path: '/groups' });
    await page.getByRole('link', { name: ALL_USERS_GROUP.name }).click();
    await page.getByRole('heading', { name: ALL_USERS_GROUP.name }).waitFor();
    await page.getByText('it cannot be renamed or deleted').first().waitFor();
    assert.equal(await page.getByRole('textbox', { name: 'Name' }).count(), 0, 'no rename');
    assert.equal(await page.getByRole('button', { name: 'Delete group' }).count(), 0, 'no delete');

    await page.getByRole('tab', { name: 'Users' }).click();
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    assert.equal(await page.getByRole('combobox', { name: 'Add a user' }).count(), 0, 'no adding');
    assert.equal(await page.getByRole('button', { name: /^Remove .* from group$/ }).count(), 0, 'no removing');

    await page.getByRole('tab', { name: 'Applications' }).click();
    await pick(page, 'Bind an application', 'payroll', /^Payroll/);
    await page.getByRole('button', { name: 'Bind application' }).click();
    await page.getByRole('link', { name: 'Payroll' }).waitFor();
    const allUsers = await world.gatehouse.directory.groups.get(ALL_USERS_GROUP.name);
    assert.ok((await world.gatehouse.directory.apps.boundGroups(payroll.id)).some((g) => g.id === allUsers.id));
  });

  test('a read-only administrator sees groups, members and apps without write controls', async () => {
    const { page } = await world.signIn('rita', { path: '/groups' });
    const row = page.getByRole('row', { name: /Finance/ });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Counts the money.*1$/, 'description and member count');
    assert.equal(await page.getByRole('button', { name: 'Create group' }).count(), 0);

    await page.getByRole('link', { name: 'Finance' }).click();
    await page.getByRole('heading', { name: 'Finance' }).waitFor();
    await page.getByText('Counts the money').first().waitFor();
    assert.equal(await page.getByRole('textbox', { name: 'Name' }).count(), 0);
    assert.equal(await page.getByRole('textbox', { name: 'Description' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Save changes' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete group' }).count(), 0);

    await page.getByRole('tab', { name: 'Users' }).click();
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    assert.equal(await page.getByRole('combobox', { name: 'Add a user' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Remove grace from group' }).count(), 0);

    await page.getByRole('tab', { name: 'Applications' }).click();
    await page.getByRole('link', { name: 'Payroll' }).waitFor();
    assert.equal(await page.getByRole('combobox', { name: 'Bind an application' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Unbind Payroll' }).count(), 0);
    assert.deepEqual(await world.gatehouse.directory.groups.memberIds(finance.id), [(await world.gatehouse.directory.users.get('grace')).id], 'nothing changed');
  });
});
