/**
 * The audit trail of people signing in and of tokens issued to apps: every sign-in, its outcome and
 * reason, against the app it was for; never the password, nor what was typed for an unknown user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, signIn, startAuthorization } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://audited.example.test/cb';
const PASSWORD = 'audit-password-1';
const TYPED_SECRET = 'typed-into-the-username-field-by-mistake';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`sign-in and token audit events (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;
    let appId: string;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, groups, apps } = gatehouse.directory;
      for (const name of ['ines', 'sven', 'otto']) await users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
      await users.suspend('sven');
      await groups.create('audited');
      await groups.addMember('audited', 'ines');
      await groups.addMember('audited', 'sven');
      const { app, clientSecret } = await apps.create({ label: 'Audited app', redirect_uris: [REDIRECT_URI], refresh_token: true, scopes: ['email'] });
      appId = app.id;
      await apps.bind(app.id, 'audited');
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    const events = async () => (await gatehouse.directory.audit.list({ action: 'user.sign_in' })).events;
    const attempt = async (username: string, password: string) => {
      const start = await startAuthorization(config, REDIRECT_URI, 'openid email');
      return browse(new Browser(), start.url, REDIRECT_URI, { username, password });
    };

    test('a successful sign-in and the tokens it leads to are recorded against the app', async () => {
      const { tokens } = await signIn(config, { redirectUri: REDIRECT_URI, scope: 'openid email offline_access', username: 'ines', password: PASSWORD });
      await client.refreshTokenGrant(config, tokens.refresh_token as string);
      const [signInEvent] = await events();
      assert.equal(signInEvent?.outcome, 'success');
      assert.equal(signInEvent?.actor.name, 'ines');
      assert.deepEqual(signInEvent?.target, { type: 'app', id: appId, name: 'Audited app' });
      assert.ok(signInEvent?.source_ip);
      // Token events are written just after the response.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const issued = (await gatehouse.directory.audit.list({ action: 'token.issue' })).events;
      assert.deepEqual(issued.map((e) => e.details.grant_type).sort(), ['authorization_code', 'refresh_token']);
      for (const event of issued) {
        assert.equal(event.target?.id, appId);
        assert.equal(event.actor.type, 'user');
        assert.equal(event.actor.name, 'ines', 'named, as in the sign-in event');
      }
    });

    test('refusals carry their reason: bad password, unknown user, suspended, not assigned', async () => {
      await attempt('ines', 'wrong-password');
      await attempt(TYPED_SECRET, PASSWORD);
      await attempt('sven', PASSWORD);
      await attempt('otto', PASSWORD);
      const failures = (await events()).filter((e) => e.outcome === 'failure');
      const byReason = new Map(failures.map((e) => [String(e.details.reason), e]));
      assert.equal(byReason.get('bad_password')?.actor.name, 'ines');
      assert.equal(byReason.get('unknown_user')?.actor.type, 'anonymous');
      assert.equal(byReason.get('suspended')?.actor.name, 'sven');
      assert.equal(byReason.get('not_assigned')?.actor.name, 'otto');
      for (const event of failures) assert.equal(event.target?.id, appId);
    });

    test('no password, and nothing typed for an unknown user, reaches the audit table', async () => {
      const rows = await gatehouse.runtime.storage.db.selectFrom('audit_events').selectAll().execute();
      const text = JSON.stringify(rows);
      assert.ok(!text.includes(PASSWORD));
      assert.ok(!text.includes('wrong-password'));
      assert.ok(!text.includes(TYPED_SECRET));
    });
  });
}
