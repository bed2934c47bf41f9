/**
 * Setting up second factors in the portal (issue 12 §2), over the self-service API with a real portal
 * sign-in: an authenticator app with its QR code, recovery codes, removal that needs a code, and the
 * administrators' view and reset, which never show a secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../../../src/authn/totp.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';
import { browse, discover, startAuthorization } from '../../helpers/rp.ts';
import { TOTP_PERIOD_MS, freshTotpStep } from '../../helpers/totp.ts';

const PASSWORD = 'factor-enrolment-password-1';
const PERIOD_MS = TOTP_PERIOD_MS;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Second factors through the self-service API (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let serial = 0;
    before(async () => {
      gatehouse = await startGatehouse(kind);
    });
    after(() => gatehouse?.close());

    async function person() {
      const username = `kim-${++serial}`;
      const user = await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      const { accessToken } = await portalSignIn(gatehouse, username, PASSWORD);
      const as = (method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: accessToken, bearer: true });
      return { user, username, as };
    }

    test('set up an authenticator app: QR code, a wrong first code refused, the right one confirms it and brings ten recovery codes', async () => {
      const stepStart = await freshTotpStep();
      const { user, username, as } = await person();
      assert.deepEqual((await as('GET', '/api/me/factors')).body, { totp: null, recovery_codes: null, passkeys: [] });

      const started = await as('POST', '/api/me/factors/totp');
      assert.equal(started.status, 201, started.text);
      const { secret, uri, qr_svg } = started.body;
      assert.match(secret, /^[A-Z2-7]{32}$/);
      assert.equal(new URL(uri).searchParams.get('secret'), secret);
      assert.match(decodeURIComponent(new URL(uri).pathname), new RegExp(username));
      assert.match(qr_svg, /^<svg[\s\S]*<\/svg>\s*$/);

      const wrong = await as('POST', '/api/me/factors/totp/confirm', { code: '000000' });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.code, 'factor.totp_code_wrong');
      assert.deepEqual((await as('GET', '/api/me/factors')).body.totp, null, 'not a factor yet');

      const confirmed = await as('POST', '/api/me/factors/totp/confirm', { code: totpCode(secret, stepStart) });
      assert.equal(confirmed.status, 200, confirmed.text);
      assert.equal(confirmed.body.recovery_codes.length, 10);
      const factors = (await as('GET', '/api/me/factors')).body;
      assert.ok(factors.totp.confirmed_at);
      assert.equal(factors.recovery_codes.remaining, 10);

      // From now on an app sign-in asks for the code after the password.
      const everyone = await gatehouse.directory.groups.get('All Users');
      const redirect = 'https://enrolled.example.test/callback';
      const { app } = await gatehouse.directory.apps.create({ label: `Enrolled ${serial}`, redirect_uris: [redirect], auth_method: 'none' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      const rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, authMethod: 'none', redirectUri: redirect });
      const start = await startAuthorization(rp, redirect, 'openid');
      const outcome = await browse(new Browser(), start.url, redirect, { username, password: PASSWORD });
      assert.match(outcome.page?.html ?? '', /Two-step verification/);

      // Audited as the person; no secret and no code in the log.
      const events = (await gatehouse.directory.audit.list({ action: 'self.factor.totp_enrol', limit: 10, offset: 0 })).events.filter((e) => e.target?.id === user.id);
      assert.equal(events.length, 2, 'the refusal and the success');
      assert.equal(events[0]?.actor.type, 'user');
      assert.equal(events[0]?.actor.id, user.id);
      const log = JSON.stringify(await gatehouse.directory.audit.list({ limit: 100, offset: 0 }));
      assert.ok(!log.includes(secret));
      for (const code of confirmed.body.recovery_codes) assert.ok(!log.includes(code));
    });

    test('a confirmed app is not replaced by starting again; removing it needs a code (or a recovery code)', async () => {
      const stepStart = await freshTotpStep();
      const { as } = await person();
      const { secret } = (await as('POST', '/api/me/factors/totp')).body;
      const { recovery_codes } = (await as('POST', '/api/me/factors/totp/confirm', { code: totpCode(secret, stepStart - PERIOD_MS) })).body;
      const again = await as('POST', '/api/me/factors/totp');
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'factor.totp_already_enrolled');

      const refused = await as('DELETE', '/api/me/factors/totp', { code: '999999' });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'factor.code_wrong');
      const missing = await as('DELETE', '/api/me/factors/totp', {});
      assert.equal(missing.status, 400);
      assert.ok((await as('GET', '/api/me/factors')).body.totp, 'still there');

      const removed = await as('DELETE', '/api/me/factors/totp', { code: recovery_codes[0] });
      assert.equal(removed.status, 204, removed.text);
      assert.equal((await as('GET', '/api/me/factors')).body.totp, null);
      assert.equal((await as('DELETE', '/api/me/factors/totp', { code: totpCode(secret, stepStart) })).status, 404);
    });

    test('new recovery codes replace the old set', async () => {
      const stepStart = await freshTotpStep();
      const { user, as } = await person();
      const { secret } = (await as('POST', '/api/me/factors/totp')).body;
      const first = (await as('POST', '/api/me/factors/totp/confirm', { code: totpCode(secret, stepStart) })).body.recovery_codes;
      const renewed = await as('POST', '/api/me/recovery-codes');
      assert.equal(renewed.status, 201);
      assert.equal(renewed.body.recovery_codes.length, 10);
      assert.equal(await gatehouse.runtime.factors.redeemRecoveryCode(user.id, first[0]), undefined, 'the old set is gone');
      assert.deepEqual(await gatehouse.runtime.factors.redeemRecoveryCode(user.id, renewed.body.recovery_codes[0]), { remaining: 9 });
    });

    test('administrators see what is set up (never a secret) and the help desk resets it; API keys can’t use the self-service routes', async () => {
      const stepStart = await freshTotpStep();
      const { user, as } = await person();
      const { secret } = (await as('POST', '/api/me/factors/totp')).body;
      await as('POST', '/api/me/factors/totp/confirm', { code: totpCode(secret, stepStart) });

      const reader = await adminKey(gatehouse, 'read_only');
      const seen = await call(gatehouse, 'GET', `/api/users/${user.id}/factors`, undefined, { key: reader.key });
      assert.equal(seen.status, 200);
      assert.ok(seen.body.totp.confirmed_at);
      assert.equal(seen.body.recovery_codes.remaining, 10);
      assert.ok(!seen.text.includes(secret));
      assert.equal((await call(gatehouse, 'DELETE', `/api/users/${user.id}/factors`, undefined, { key: reader.key })).status, 403);
      assert.equal((await call(gatehouse, 'GET', '/api/me/factors', undefined, { key: reader.key })).status, 403);

      const helpdesk = await adminKey(gatehouse, 'help_desk');
      const reset = await call(gatehouse, 'DELETE', `/api/users/${user.id}/factors`, undefined, { key: helpdesk.key });
      assert.equal(reset.status, 204, reset.text);
      assert.deepEqual((await as('GET', '/api/me/factors')).body, { totp: null, recovery_codes: null, passkeys: [] });
      const [event] = (await gatehouse.directory.audit.list({ action: 'user.factors_reset', limit: 1, offset: 0 })).events;
      assert.equal(event?.actor.id, helpdesk.apiKey.id);
      assert.equal(event?.target?.id, user.id);
      assert.equal((await call(gatehouse, 'DELETE', '/api/users/nobody-here/factors', undefined, { key: helpdesk.key })).status, 404);
    });
  });
}
