/**
 * The user portal's self-service API (issue 11 §2): a person's apps (exactly the tiles the access
 * rules allow, each launching at its Login URL with `iss`), their profile, their display name when
 * the organisation allows it, and their password; and the console's view of a user's portal apps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CONSOLE_CLIENT_ID } from '../../../src/directory/console-app.ts';
import { launchUrl } from '../../../src/directory/portal.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { openStorage } from '../../../src/storage/db.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';
import { browse, discover, startAuthorization } from '../../helpers/rp.ts';

const PASSWORD = 'portal-password-1';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

test('launch URLs: iss appended to the query as written, replacing one already there, or left off', () => {
  const issuer = 'https://id.example.com';
  assert.equal(launchUrl('https://app.example/login', issuer, true), 'https://app.example/login?iss=https%3A%2F%2Fid.example.com');
  assert.equal(launchUrl('https://app.example/login?', issuer, true), 'https://app.example/login?iss=https%3A%2F%2Fid.example.com');
  assert.equal(launchUrl('https://app.example/sso?a=1&b=x%20y&flag', issuer, true), 'https://app.example/sso?a=1&b=x%20y&flag&iss=https%3A%2F%2Fid.example.com');
  assert.equal(new URL(launchUrl('https://app.example/sso?iss=https://other.example&a=1', issuer, true)).searchParams.getAll('iss').join(), issuer);
  assert.equal(launchUrl('com.example.app:/start?x=1', issuer, true), 'com.example.app:/start?x=1&iss=https%3A%2F%2Fid.example.com');
  assert.equal(launchUrl('https://app.example/sso?a=1', issuer, false), 'https://app.example/sso?a=1');
});

for (const { kind, skip } of DATABASE_KINDS) {
  test(`migration 012 leaves existing passwords' change time unknown (${kind})`, { skip }, async () => {
    const { config, cleanup } = await freshConfig(kind);
    const open = () => openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    try {
      // A database as it was before 012, with a user who has a password.
      const before = await open();
      await before.db.schema.alterTable('users').dropColumn('password_changed_at').execute();
      await before.db.deleteFrom('schema_migrations').where('version', '=', 12).execute();
      await before.db
        .insertInto('users')
        .values({ id: 'a'.repeat(24), username: 'old', username_key: 'old', email: 'old@example.com', email_key: 'old@example.com', firstname: '', lastname: '', displayname: '', state: 'ACTIVATED', account_locked: 0, password_hash: 'x', failed_logins: 0, attributes: '{}', role: null, created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' } as never)
        .execute();
      await before.close();
      const after = await open();
      try {
        const row = await after.db.selectFrom('users').select(['password_changed_at']).where('username_key', '=', 'old').executeTakeFirstOrThrow();
        assert.equal(row.password_changed_at, null);
        assert.ok(await after.db.selectFrom('schema_migrations').select('version').where('version', '=', 12).executeTakeFirst());
      } finally {
        await after.close();
      }
    } finally {
      await cleanup();
    }
  });

  describe(`User portal self-service API (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    const person = (username: string, extra: { role?: 'administrator' | null; password?: string | undefined; displayname?: string } = {}) =>
      gatehouse.directory.users.create({
        username,
        email: `${username}@example.com`,
        ...('password' in extra ? (extra.password === undefined ? {} : { password: extra.password }) : { password: PASSWORD }),
        state: 'ACTIVATED',
        role: extra.role ?? null,
        ...(extra.displayname ? { displayname: extra.displayname } : {}),
      });
    const asToken = (token: string, method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: token, bearer: true });
    const makeApp = async (label: string, extra: Record<string, unknown> = {}) =>
      (await gatehouse.directory.apps.create({ label, redirect_uris: [`https://${label.toLowerCase().replace(/[^a-z]+/g, '-')}.example.test/callback`], auth_method: 'none', ...extra })).app;
    const auditOf = async (userId: string, action: string) => (await gatehouse.directory.audit.list({ actor: userId, action })).events;

    before(async () => {
      gatehouse = await startGatehouse(kind);
    });
    after(() => gatehouse?.close());

    test('the tiles are exactly the active, bound, shown apps with a Login URL, by label, launching with iss', async () => {
      const d = gatehouse.directory;
      const tess = await person('tess');
      const other = await person('otto');
      const team = await d.groups.create('Tile team');
      await d.groups.addMember(team.id, tess.id);
      const elsewhere = await d.groups.create('Elsewhere');
      await d.groups.addMember(elsewhere.id, other.id);
      const everyone = await d.groups.get('All Users');

      const bound = await makeApp('Bound', { login_url: 'https://bound.example.test/start', description: 'Through a group' });
      await d.apps.bind(bound.id, team.id);
      await d.apps.setIcon(bound.id, { mediaType: 'image/png', base64: PNG.toString('base64') });
      const forAll = await makeApp('all-users app', { login_url: 'https://all.example.test/sso?tenant=a%20b&x' });
      await d.apps.bind(forAll.id, everyone.id);
      const noIss = await makeApp('Quiet', { login_url: 'https://quiet.example.test/login?next=/home', send_iss_on_launch: false });
      await d.apps.bind(noIss.id, team.id);
      // Not tiles: bound to another group, inactive, hidden, without a Login URL.
      const unbound = await makeApp('Unbound', { login_url: 'https://unbound.example.test/' });
      await d.apps.bind(unbound.id, elsewhere.id);
      const inactive = await makeApp('Inactive', { login_url: 'https://inactive.example.test/' });
      await d.apps.bind(inactive.id, team.id);
      await d.apps.deactivate(inactive.id);
      const hidden = await makeApp('Hidden', { login_url: 'https://hidden.example.test/', show_in_portal: false });
      await d.apps.bind(hidden.id, team.id);
      await d.apps.setIcon(hidden.id, { mediaType: 'image/png', base64: PNG.toString('base64') });
      const noLogin = await makeApp('No login URL');
      await d.apps.bind(noLogin.id, team.id);

      const session = await portalSignIn(gatehouse, 'tess', PASSWORD);
      const apps = await asToken(session.accessToken, 'GET', '/api/me/apps');
      assert.equal(apps.status, 200, apps.text);
      const iss = encodeURIComponent(gatehouse.issuer);
      assert.deepEqual(apps.body.data, [
        { id: forAll.id, label: 'all-users app', description: '', has_icon: false, launch_url: `https://all.example.test/sso?tenant=a%20b&x&iss=${iss}` },
        { id: bound.id, label: 'Bound', description: 'Through a group', has_icon: true, launch_url: `https://bound.example.test/start?iss=${iss}` },
        { id: noIss.id, label: 'Quiet', description: '', has_icon: false, launch_url: 'https://quiet.example.test/login?next=/home' },
      ]);
      assert.equal(new URL(apps.body.data[0].launch_url).searchParams.get('iss'), gatehouse.issuer);
      assert.equal(new URL(apps.body.data[0].launch_url).searchParams.get('tenant'), 'a b');

      const icon = await asToken(session.accessToken, 'GET', `/api/me/apps/${bound.id}/icon`);
      assert.equal(icon.status, 200);
      assert.equal(icon.headers.get('content-type'), 'image/png');
      assert.equal(icon.headers.get('x-content-type-options'), 'nosniff');
      for (const notTheirs of [hidden.id, unbound.id, inactive.id, 'no-such-app']) {
        const refused = await asToken(session.accessToken, 'GET', `/api/me/apps/${notTheirs}/icon`);
        assert.equal(refused.status, 404, notTheirs);
        assert.equal(refused.body.code, 'app.not_found');
      }
      const noIcon = await asToken(session.accessToken, 'GET', `/api/me/apps/${noIss.id}/icon`);
      assert.equal(noIcon.status, 404);
      assert.equal(noIcon.body.code, 'app.no_icon');

      // The console's view of the same person: read access suffices; an API key is required.
      const { key } = await adminKey(gatehouse, 'read_only', { scope: 'read_only' });
      const adminView = await call(gatehouse, 'GET', `/api/users/${tess.id}/portal-apps`, undefined, { key });
      assert.equal(adminView.status, 200, adminView.text);
      assert.deepEqual(adminView.body, apps.body);
      const byName = await call(gatehouse, 'GET', '/api/users/tess/portal-apps', undefined, { key });
      assert.deepEqual(byName.body, apps.body);
      const anonymous = await call(gatehouse, 'GET', `/api/users/${tess.id}/portal-apps`);
      assert.equal(anonymous.status, 401);
      assert.equal((await call(gatehouse, 'GET', '/api/users/nobody/portal-apps', undefined, { key })).status, 404);
      // A portal token is no admin credential.
      assert.equal((await asToken(session.accessToken, 'GET', `/api/users/${tess.id}/portal-apps`)).status, 401);

      // A locked person (deny by default) has no tiles, whatever their bindings.
      await gatehouse.runtime.storage.db.updateTable('users').set({ account_locked: 1 }).where('id', '=', tess.id).execute();
      const locked = await call(gatehouse, 'GET', `/api/users/${tess.id}/portal-apps`, undefined, { key });
      assert.deepEqual(locked.body, { data: [] });
      await d.users.unlock(tess.id);
      const otherView = await call(gatehouse, 'GET', `/api/users/${other.id}/portal-apps`, undefined, { key });
      assert.deepEqual(
        otherView.body.data.map((app: { label: string }) => app.label),
        ['all-users app', 'Unbound'],
      );
    });

    test('the profile: directory fields, groups, administrator, display name rule and password facts', async () => {
      const d = gatehouse.directory;
      const pia = await person('pia', { displayname: 'Pia P' });
      const group = await d.groups.create('Profile readers');
      await d.groups.addMember(group.id, pia.id);
      await d.settings.update({ organisation_name: 'Acme' });
      const session = await portalSignIn(gatehouse, 'pia', PASSWORD);
      const profile = await asToken(session.accessToken, 'GET', '/api/me/profile');
      assert.equal(profile.status, 200, profile.text);
      assert.equal(profile.body.user.id, pia.id);
      assert.deepEqual(profile.body.groups, [{ id: group.id, name: 'Profile readers' }]);
      assert.equal(profile.body.organisation_name, 'Acme');
      assert.equal(profile.body.administrator, false);
      assert.equal(profile.body.may_edit_displayname, false);
      assert.equal(profile.body.password.set, true);
      assert.equal(profile.body.password.managed_externally, false);
      assert.equal(profile.body.password.managed_by, null);
      // Created with a password just now: that is when it was set.
      assert.ok(Math.abs(Date.parse(profile.body.password.changed_at) - Date.now()) < 60_000, profile.body.password.changed_at);

      await person('adam', { role: 'administrator' });
      const admin = await portalSignIn(gatehouse, 'adam', PASSWORD);
      assert.equal((await asToken(admin.accessToken, 'GET', '/api/me/profile')).body.administrator, true);

      // The display name only while the organisation allows it; nothing else, ever.
      const refused = await asToken(session.accessToken, 'PATCH', '/api/me/profile', { displayname: 'Pia the Great' });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.code, 'self.displayname_not_editable');
      assert.equal((await d.users.get(pia.id)).displayname, 'Pia P');
      const refusal = await auditOf(pia.id, 'self.profile_update');
      assert.equal(refusal[0]?.outcome, 'failure');
      assert.equal(refusal[0]?.details.code, 'self.displayname_not_editable');

      const { key } = await adminKey(gatehouse, 'administrator_with_billing');
      const setting = await call(gatehouse, 'PATCH', '/api/settings', { users_may_edit_displayname: true }, { key });
      assert.equal(setting.status, 200, setting.text);
      assert.equal(setting.body.users_may_edit_displayname, true);
      assert.equal((await call(gatehouse, 'PATCH', '/api/settings', { users_may_edit_displayname: 'yes' }, { key })).status, 400);
      try {
        const changed = await asToken(session.accessToken, 'PATCH', '/api/me/profile', { displayname: '  Pia the Great ' });
        assert.equal(changed.status, 200, changed.text);
        assert.equal(changed.body.user.displayname, 'Pia the Great');
        assert.equal(changed.body.may_edit_displayname, true);
        const [event] = await auditOf(pia.id, 'self.profile_update');
        assert.equal(event?.outcome, 'success');
        assert.equal(event?.actor.id, pia.id);
        assert.equal(event?.target?.id, pia.id);
        assert.deepEqual(event?.details.fields, ['displayname']);

        for (const body of [{ displayname: 'x', email: 'evil@example.com' }, { username: 'root' }, { role: 'administrator' }, { displayname: 'x'.repeat(257) }, { displayname: 'a\u0007b' }]) {
          const bad = await asToken(session.accessToken, 'PATCH', '/api/me/profile', body);
          assert.equal(bad.status, 400, JSON.stringify(body));
        }
        const after = await d.users.get(pia.id);
        assert.equal(after.email, 'pia@example.com');
        assert.equal(after.role, null);
      } finally {
        await d.settings.update({ users_may_edit_displayname: false });
      }
    });

    test('changing one’s password: the new one signs in, the old one no longer; audited without secrets', async () => {
      const cleo = await person('cleo');
      const session = await portalSignIn(gatehouse, 'cleo', PASSWORD);
      const before = (await asToken(session.accessToken, 'GET', '/api/me/profile')).body.password.changed_at;
      const changed = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: 'a-brand-new-password' });
      assert.equal(changed.status, 204, changed.text);
      const after = (await asToken(session.accessToken, 'GET', '/api/me/profile')).body.password.changed_at;
      assert.ok(Date.parse(after) >= Date.parse(before));

      await portalSignIn(gatehouse, 'cleo', 'a-brand-new-password', { browser: new Browser() });
      await assert.rejects(portalSignIn(gatehouse, 'cleo', PASSWORD, { browser: new Browser() }));

      const [event] = await auditOf(cleo.id, 'self.password_change');
      assert.equal(event?.outcome, 'success');
      assert.equal(event?.actor.type, 'user');
      assert.equal(event?.actor.id, cleo.id);
      assert.equal(event?.target?.id, cleo.id);
      const everything = JSON.stringify((await gatehouse.directory.audit.list({ actor: cleo.id })).events);
      assert.ok(!everything.includes('a-brand-new-password') && !everything.includes(PASSWORD), 'no password in the audit log');
    });

    test('a wrong current password is refused, counted towards the lockout, and rate limited', async () => {
      const wes = await person('wes');
      const session = await portalSignIn(gatehouse, 'wes', PASSWORD);
      const wrong = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: 'not-my-password', new_password: 'another-good-password' });
      assert.equal(wrong.status, 400, wrong.text);
      assert.equal(wrong.body.code, 'self.password_incorrect');
      assert.equal(wrong.body.details[0].path, 'current_password');
      const row = await gatehouse.runtime.storage.db.selectFrom('users').select('failed_logins').where('id', '=', wes.id).executeTakeFirstOrThrow();
      assert.equal(Number(row.failed_logins), 1, 'counted like a failed sign-in');
      const [event] = await auditOf(wes.id, 'self.password_change');
      assert.equal(event?.outcome, 'failure');
      assert.equal(event?.details.code, 'self.password_incorrect');
      assert.ok(!JSON.stringify(event).includes('not-my-password'));
      // Still the old password.
      await portalSignIn(gatehouse, 'wes', PASSWORD, { browser: new Browser() });

      // Five wrong ones per 15 minutes; the sixth isn't even checked.
      for (let i = 0; i < 4; i++) {
        const again = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: `wrong-${i}`, new_password: 'another-good-password' });
        assert.equal(again.status, 400);
      }
      const limited = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: 'another-good-password' });
      assert.equal(limited.status, 429, limited.text);
      assert.equal(limited.body.code, 'request.rate_limited');
      // The sign-in above started the count again: four wrong ones since, the refused sixth not among them.
      const counted = await gatehouse.runtime.storage.db.selectFrom('users').select('failed_logins').where('id', '=', wes.id).executeTakeFirstOrThrow();
      assert.equal(Number(counted.failed_logins), 4);
    });

    test('ten wrong current passwords lock the account like failed sign-ins', async () => {
      const lou = await person('lou');
      await gatehouse.runtime.storage.db.updateTable('users').set({ failed_logins: 9 }).where('id', '=', lou.id).execute();
      const session = await portalSignIn(gatehouse, 'lou', PASSWORD);
      await gatehouse.runtime.storage.db.updateTable('users').set({ failed_logins: 9 }).where('id', '=', lou.id).execute();
      const wrong = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: 'guess', new_password: 'another-good-password' });
      assert.equal(wrong.status, 400);
      assert.equal((await gatehouse.directory.users.get(lou.id)).account_locked, true);
      // Locked: the person's token no longer works, let alone a right password.
      const after = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: 'another-good-password' });
      assert.equal(after.status, 401);
    });

    test('a new password must keep to the password rules', async () => {
      await person('ruth');
      const session = await portalSignIn(gatehouse, 'ruth', PASSWORD);
      const short = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: 'short' });
      assert.equal(short.status, 400, short.text);
      assert.equal(short.body.code, 'user.password_too_short');
      assert.match(short.body.message, /at least 12 characters/);
      assert.equal(short.body.details[0].path, 'new_password');
      await gatehouse.directory.settings.update({ password_min_length: 20 });
      try {
        const policy = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: 'fifteen-chars!!' });
        assert.equal(policy.status, 400);
        assert.match(policy.body.message, /at least 20 characters/);
      } finally {
        await gatehouse.directory.settings.update({ password_min_length: 8 });
      }
      const blank = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: '           ' });
      assert.equal(blank.status, 400);
      assert.equal(blank.body.code, 'user.password_blank');
      const same = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: PASSWORD });
      assert.equal(same.status, 400);
      assert.equal(same.body.code, 'self.password_unchanged');
      for (const body of [{ new_password: 'a-good-new-password' }, { current_password: PASSWORD }, { current_password: PASSWORD, new_password: 'a-good-new-password', user: 'someone' }]) {
        assert.equal((await asToken(session.accessToken, 'POST', '/api/me/password', body)).status, 400, JSON.stringify(body));
      }
      // Still the old password after every refusal.
      await portalSignIn(gatehouse, 'ruth', PASSWORD, { browser: new Browser() });
    });

    test('an externally managed password is refused with the provider’s name; no Gatehouse password is said so', async () => {
      const d = gatehouse.directory;
      const erin = await person('erin');
      const session = await portalSignIn(gatehouse, 'erin', PASSWORD);
      // Routed to a provider after signing in: the profile says so and the password stays unchanged.
      const routed = await d.groups.create('Routed to Contoso');
      await d.groups.addMember(routed.id, erin.id);
      const entra = await d.identityProviders.create({
        name: 'Contoso Entra',
        type: 'entra',
        url: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47',
        client_id: 'contoso-client',
        client_secret: 'contoso-secret',
      });
      const policy = await d.routingPolicies.create({ name: 'Contoso people', identity_provider: entra.id, user_groups: [routed.id] });
      try {
        const profile = await asToken(session.accessToken, 'GET', '/api/me/profile');
        assert.deepEqual({ ...profile.body.password, changed_at: null }, { set: true, changed_at: null, managed_externally: true, managed_by: 'Contoso Entra' });
        const refused = await asToken(session.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: 'a-good-new-password' });
        assert.equal(refused.status, 409, refused.text);
        assert.equal(refused.body.code, 'user.password_externally_managed');
        assert.match(refused.body.message, /Contoso Entra/);
        const [event] = await auditOf(erin.id, 'self.password_change');
        assert.equal(event?.outcome, 'failure');
        assert.equal(event?.details.code, 'user.password_externally_managed');
      } finally {
        await d.routingPolicies.remove(policy.id);
      }

      // Someone without a Gatehouse password (given one later is how they signed in here).
      const nina = await person('nina');
      const ninaSession = await portalSignIn(gatehouse, 'nina', PASSWORD);
      await gatehouse.runtime.storage.db.updateTable('users').set({ password_hash: null }).where('id', '=', nina.id).execute();
      const none = await asToken(ninaSession.accessToken, 'POST', '/api/me/password', { current_password: PASSWORD, new_password: 'a-good-new-password' });
      assert.equal(none.status, 409, none.text);
      assert.equal(none.body.code, 'self.no_password');
      assert.match(none.body.message, /no Gatehouse password/);
      assert.equal((await asToken(ninaSession.accessToken, 'GET', '/api/me/profile')).body.password.set, false);
    });

    test('every password set records when: the admin API too', async () => {
      const ivy = await person('ivy', { password: undefined });
      const { key } = await adminKey(gatehouse, 'administrator');
      const setBy = await call(gatehouse, 'PUT', `/api/users/${ivy.id}/password`, { password: 'set-by-an-admin' }, { key });
      assert.equal(setBy.status, 200, setBy.text);
      const session = await portalSignIn(gatehouse, 'ivy', 'set-by-an-admin');
      const { changed_at: changedAt } = (await asToken(session.accessToken, 'GET', '/api/me/profile')).body.password;
      assert.ok(Math.abs(Date.parse(changedAt) - Date.now()) < 60_000, changedAt);
    });

    test('refused the admin console, a person is offered their apps in the portal instead of a dead end', async () => {
      await person('nico');
      const redirectUri = `${gatehouse.issuer}/admin/callback`;
      const consoleRp = await discover({ issuer: gatehouse.issuer, clientId: CONSOLE_CLIENT_ID, authMethod: 'none', redirectUri });
      const start = await startAuthorization(consoleRp, redirectUri, 'openid profile email');
      const outcome = await browse(new Browser(), start.url, redirectUri, { username: 'nico', password: PASSWORD });
      assert.equal(outcome.page?.status, 403);
      const html = outcome.page?.html ?? '';
      const link = html.match(/<a class="portal" href="([^"]+)">Go to your apps<\/a>/);
      assert.ok(link, 'a link to the portal');
      assert.equal(link[1], `${gatehouse.issuer}/`);
      // Going back to the console is still there, as the second choice.
      assert.equal(parseForms(html).length, 1);

      // Another app's refusal sends the person back to that app, not to the portal.
      const { app } = await gatehouse.directory.apps.create({ label: 'Unassigned', redirect_uris: ['https://unassigned.example.test/callback'], auth_method: 'none' });
      const appRp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, authMethod: 'none', redirectUri: 'https://unassigned.example.test/callback' });
      const appStart = await startAuthorization(appRp, 'https://unassigned.example.test/callback', 'openid');
      const refused = await browse(new Browser(), appStart.url, 'https://unassigned.example.test/callback', { username: 'nico', password: PASSWORD });
      assert.equal(refused.page?.status, 403);
      assert.doesNotMatch(refused.page?.html ?? '', /Go to your apps/);
    });

    test('API keys are refused by every self-service route', async () => {
      const { key } = await adminKey(gatehouse, 'administrator');
      for (const [method, path, body] of [
        ['GET', '/api/me/apps'],
        ['GET', '/api/me/apps/x/icon'],
        ['PATCH', '/api/me/profile', { displayname: 'x' }],
        ['POST', '/api/me/password', { current_password: 'x', new_password: 'yyyyyyyyyy' }],
      ] as const) {
        const refused = await call(gatehouse, method, path, body, { key });
        assert.equal(refused.status, 403, path);
        assert.equal(refused.body.code, 'auth.self_service_needs_sign_in');
        assert.equal((await call(gatehouse, method, path, body)).status, 401, path);
      }
    });
  });
}
