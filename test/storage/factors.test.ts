/**
 * Second factors at rest and in use (issue 12): TOTP enrolment and verification with replay refused,
 * recovery codes used once each, secrets never stored in clear. Time is moved with an injected clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createFactorStore } from '../../src/authn/factors.ts';
import { RECOVERY_CODE_COUNT } from '../../src/authn/recovery-codes.ts';
import { totpCode } from '../../src/authn/totp.ts';
import type { Runtime } from '../../src/runtime.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';
import { rejectsWith, unique } from '../helpers/domain.ts';

const START = Date.parse('2026-12-05T10:00:00Z');

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`authentication factors (${kind})`, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    let now = START;
    const clock = () => now;
    const factors = () => createFactorStore(rt.storage.db, rt.secret, clock);
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    const newUser = () => {
      const name = unique('mfa');
      return rt.directory.users.create({ username: name, email: `${name}@example.com` });
    };

    test('a TOTP enrolment counts only once confirmed with a code, and its secret is sealed at rest', async () => {
      now = START;
      const user = await newUser();
      const store = factors();
      const { secret, uri } = await store.beginTotp(user.id, { issuer: 'Example Org', account: user.username });
      assert.match(secret, /^[A-Z2-7]{32}$/, '160 bits in base32');
      const parsed = new URL(uri);
      assert.equal(parsed.protocol, 'otpauth:');
      assert.equal(parsed.searchParams.get('secret'), secret);
      assert.equal(parsed.searchParams.get('issuer'), 'Example Org');
      assert.equal(parsed.searchParams.get('digits'), '6');
      assert.equal(parsed.searchParams.get('period'), '30');
      assert.equal(parsed.searchParams.get('algorithm'), 'SHA1');

      assert.equal(await store.hasSecondFactor(user.id), false, 'an enrolment under way is not a factor');
      assert.equal(await store.verifyTotp(user.id, totpCode(secret, now)), false, 'nor can it sign anyone in');
      const raw = await rt.storage.db.selectFrom('totp_factors').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
      assert.ok(!raw.secret_sealed.includes(secret), 'not in clear');

      await rejectsWith(store.confirmTotp(user.id, '000000'), 'factor.totp_code_wrong', 400);
      await store.confirmTotp(user.id, totpCode(secret, now));
      assert.equal(await store.hasSecondFactor(user.id), true);
      assert.equal((await store.summary(user.id)).totp?.confirmed_at, new Date(START).toISOString());
      await rejectsWith(store.beginTotp(user.id, { issuer: 'x', account: 'y' }), 'factor.totp_already_enrolled', 409);
    });

    test('a code is accepted once, one step either side of now, and never an earlier step after a later one', async () => {
      now = START;
      const user = await newUser();
      const store = factors();
      const { secret } = await store.beginTotp(user.id, { issuer: 'Org', account: user.username });
      await store.confirmTotp(user.id, totpCode(secret, now));
      assert.equal(await store.verifyTotp(user.id, totpCode(secret, now)), false, 'the confirming code is used up');

      now += 30_000;
      const code = totpCode(secret, now);
      assert.equal(await store.verifyTotp(user.id, code), true);
      assert.equal(await store.verifyTotp(user.id, code), false, 'replayed within its window');

      now += 60_000;
      assert.equal(await store.verifyTotp(user.id, totpCode(secret, now - 30_000)), true, 'the previous step is still accepted (drift)');
      assert.equal(await store.verifyTotp(user.id, totpCode(secret, now - 60_000)), false, 'two steps back is not');
      assert.equal(await store.verifyTotp(user.id, totpCode(secret, now + 90_000)), false, 'three steps ahead is not');
      assert.equal(await store.verifyTotp(user.id, 'abcdef'), false);
      assert.equal(await store.verifyTotp(user.id, ''), false);

      now += 30_000;
      const racing = totpCode(secret, now);
      const results = await Promise.all([store.verifyTotp(user.id, racing), store.verifyTotp(user.id, racing), store.verifyTotp(user.id, racing)]);
      assert.equal(results.filter(Boolean).length, 1, 'of three sign-ins racing with one code, one wins');
    });

    test('recovery codes: ten, shown once, stored hashed, each usable once, regenerating replaces them', async () => {
      now = START;
      const user = await newUser();
      const store = factors();
      const codes = await store.regenerateRecoveryCodes(user.id);
      assert.equal(codes.length, RECOVERY_CODE_COUNT);
      assert.equal(new Set(codes).size, RECOVERY_CODE_COUNT);
      for (const code of codes) assert.match(code, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
      const stored = await rt.storage.db.selectFrom('recovery_codes').select('code_hash').where('user_id', '=', user.id).execute();
      assert.equal(stored.length, RECOVERY_CODE_COUNT);
      for (const row of stored) for (const code of codes) assert.ok(!row.code_hash.includes(code.replace('-', '')));

      assert.deepEqual(await store.redeemRecoveryCode(user.id, codes[0]!.toUpperCase().replace('-', ' ')), { remaining: 9 }, 'case, spaces and hyphens do not matter');
      assert.equal(await store.redeemRecoveryCode(user.id, codes[0]!), undefined, 'used once');
      assert.equal(await store.redeemRecoveryCode(user.id, 'not-a-code'), undefined);
      assert.equal((await store.summary(user.id)).recovery_codes?.remaining, 9);

      const other = await newUser();
      assert.equal(await store.redeemRecoveryCode(other.id, codes[1]!), undefined, 'another person’s code is no code');

      const renewed = await store.regenerateRecoveryCodes(user.id);
      assert.equal(await store.redeemRecoveryCode(user.id, codes[1]!), undefined, 'the old set is gone');
      assert.deepEqual(await store.redeemRecoveryCode(user.id, renewed[0]!), { remaining: 9 });
    });

    test('an administrator’s reset removes every factor; deleting the person removes them too', async () => {
      now = START;
      const user = await newUser();
      const store = factors();
      const { secret } = await store.beginTotp(user.id, { issuer: 'Org', account: user.username });
      await store.confirmTotp(user.id, totpCode(secret, now));
      await store.regenerateRecoveryCodes(user.id);
      await store.resetAll(user.id);
      assert.deepEqual(await store.summary(user.id), { totp: null, recovery_codes: null, passkeys: [] });

      const gone = await newUser();
      await store.regenerateRecoveryCodes(gone.id);
      await rt.directory.users.delete(gone.id);
      const left = await rt.storage.db.selectFrom('recovery_codes').select('user_id').where('user_id', '=', gone.id).execute();
      assert.equal(left.length, 0);
    });
  });
}
