/**
 * Removing one's last factor while an access policy requires MFA of oneself is refused with the
 * reason (issue 12 §2), through the self-service API; without such a policy (or with it disabled,
 * or for someone outside its groups) it is allowed. Both databases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TOTP_PERIOD_SECONDS, totpCode } from '../../../src/authn/totp.ts';
import { call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';

const PASSWORD = 'last-factor-password-1';
const PERIOD_MS = TOTP_PERIOD_SECONDS * 1000;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`the last factor under a require_mfa policy (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    before(async () => {
      gatehouse = await startGatehouse(kind);
      await gatehouse.directory.groups.create('finance');
      for (const name of ['fern', 'otto']) await gatehouse.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      await gatehouse.directory.groups.addMember('finance', 'fern');
    });
    after(() => gatehouse?.close());

    /** Signed in to the portal before any policy, then an authenticator app set up through the API: its recovery codes. */
    async function enrolled(username: string) {
      const { accessToken } = await portalSignIn(gatehouse, username, PASSWORD);
      const as = (method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: accessToken, bearer: true });
      const begun = await as('POST', '/api/me/factors/totp');
      assert.equal(begun.status, 201, begun.text);
      const confirmed = await as('POST', '/api/me/factors/totp/confirm', { code: totpCode(begun.body.secret, Date.now() - PERIOD_MS) });
      assert.equal(confirmed.status, 200, confirmed.text);
      return { as, recoveryCodes: confirmed.body.recovery_codes as string[] };
    }

    test('refused with the policy named while it requires MFA of the person; allowed once it is disabled', async () => {
      const fern = await enrolled('fern');
      const otto = await enrolled('otto');
      const policy = await gatehouse.directory.accessPolicies.create({ name: 'Finance MFA', resource: 'all_apps', users: 'groups', user_groups: ['finance'], action: 'require_mfa' });

      const refused = await fern.as('DELETE', '/api/me/factors/totp', { code: fern.recoveryCodes[0] });
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.code, 'factor.required_by_policy');
      assert.match(refused.body.message, /"Finance MFA"/);
      const fernUser = await gatehouse.directory.users.get('fern');
      assert.equal(await gatehouse.runtime.factors.hasSecondFactor(fernUser.id), true, 'still there');
      const [event] = (await gatehouse.directory.audit.list({ action: 'self.factor.totp_remove', limit: 1, offset: 0 })).events;
      assert.equal(event?.outcome, 'failure');

      // Otto is outside the policy's groups.
      const removed = await otto.as('DELETE', '/api/me/factors/totp', { code: otto.recoveryCodes[0] });
      assert.equal(removed.status, 204, removed.text);

      await gatehouse.directory.accessPolicies.update(policy.id, { enabled: false });
      const allowed = await fern.as('DELETE', '/api/me/factors/totp', { code: fern.recoveryCodes[1] });
      assert.equal(allowed.status, 204, allowed.text);
      assert.equal(await gatehouse.runtime.factors.hasSecondFactor(fernUser.id), false);
    });
  });
}
