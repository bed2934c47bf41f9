/**
 * Changing one's password can end every other session (OWASP ASVS 3.3.3: the option to terminate
 * other sessions after a password change): the session making the change stays signed in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';

const OLD = 'the-old-password-42';
const NEW = 'a-brand-new-password-43';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Password change and other sessions (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    before(async () => {
      gatehouse = await startGatehouse(kind);
    });
    after(() => gatehouse?.close());

    const as = (token: string, method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: token, bearer: true });

    test('sign_out_other_sessions ends the other sessions and keeps this one', async () => {
      const user = await gatehouse.directory.users.create({ username: 'rotating', email: 'rotating@example.com', password: OLD, state: 'ACTIVATED' });
      const here = await portalSignIn(gatehouse, 'rotating', OLD);
      const there = await portalSignIn(gatehouse, 'rotating', OLD);
      assert.equal((await as(here.accessToken, 'GET', '/api/me/sessions')).body.data.length, 2);

      const changed = await as(here.accessToken, 'POST', '/api/me/password', { current_password: OLD, new_password: NEW, sign_out_other_sessions: true });
      assert.equal(changed.status, 204, changed.text);
      assert.equal((await as(there.accessToken, 'GET', '/api/me/profile')).status, 401, 'the other session’s sign-in is over');
      const left = await as(here.accessToken, 'GET', '/api/me/sessions');
      assert.equal(left.status, 200);
      assert.deepEqual(
        left.body.data.map((s: { current: boolean }) => s.current),
        [true],
      );
      const [event] = (await gatehouse.directory.audit.list({ action: 'self.session.end_others', limit: 1, offset: 0 })).events;
      assert.equal(event?.actor.id, user.id);
      assert.equal(event?.details.sessions, 1);
    });

    test('without it, the other sessions stay', async () => {
      await gatehouse.directory.users.create({ username: 'keeping', email: 'keeping@example.com', password: OLD, state: 'ACTIVATED' });
      const here = await portalSignIn(gatehouse, 'keeping', OLD);
      const there = await portalSignIn(gatehouse, 'keeping', OLD);
      assert.equal((await as(here.accessToken, 'POST', '/api/me/password', { current_password: OLD, new_password: NEW })).status, 204);
      assert.equal((await as(there.accessToken, 'GET', '/api/me/profile')).status, 200);
      assert.equal((await as(here.accessToken, 'GET', '/api/me/sessions')).body.data.length, 2);
    });

    test('a refused change ends nothing', async () => {
      await gatehouse.directory.users.create({ username: 'refused', email: 'refused@example.com', password: OLD, state: 'ACTIVATED' });
      const here = await portalSignIn(gatehouse, 'refused', OLD);
      const there = await portalSignIn(gatehouse, 'refused', OLD);
      const wrong = await as(here.accessToken, 'POST', '/api/me/password', { current_password: 'not-the-password-1', new_password: NEW, sign_out_other_sessions: true });
      assert.equal(wrong.status, 400);
      assert.equal((await as(there.accessToken, 'GET', '/api/me/profile')).status, 200);
    });
  });
}
