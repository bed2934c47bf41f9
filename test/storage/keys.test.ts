import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RETIRED_KEY_GRACE } from '../../src/oidc/keys.ts';
import { deriveKey, unseal } from '../../src/oidc/secret-key.ts';
import type { Runtime } from '../../src/runtime.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    const rows = () => rt.storage.db.selectFrom('signing_keys').selectAll().execute();
    const byState = async () => {
      const all = await rows();
      const states: Record<string, string[]> = {};
      for (const row of all) {
        states[row.state] ??= [];
        states[row.state]?.push(row.kid);
      }
      return states;
    };

    // The tests below run in order and build on one another: ensure, then rotate twice.

    test('opening the runtime ensures a current and a next key', async () => {
      const states = await byState();
      assert.deepEqual(Object.keys(states).sort(), ['current', 'next']);
      assert.equal(states.current?.length, 1);
      assert.equal(states.next?.length, 1);
      const list = await rt.keys.list();
      assert.deepEqual(
        list.map((k) => k.state),
        ['current', 'next'],
      );
      for (const key of list) {
        assert.equal(key.alg, 'RS256');
        assert.equal(key.retire_at, null);
      }
    });

    test('ensure is idempotent', async () => {
      const before = (await rows()).map((r) => r.kid).sort();
      await rt.keys.ensure();
      await rt.keys.ensure();
      assert.deepEqual((await rows()).map((r) => r.kid).sort(), before);
    });

    test('private keys are sealed: the stored column does not contain d in plaintext', async () => {
      const sealingKey = deriveKey(rt.secret, 'signing-keys');
      for (const row of await rows()) {
        assert.match(row.private_jwk, /^v1\./);
        const jwk = JSON.parse(unseal(sealingKey, row.private_jwk)) as Record<string, string>;
        assert.equal(typeof jwk.d, 'string');
        assert.ok((jwk.d ?? '').length > 100);
        for (const part of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
          const value = jwk[part];
          assert.ok(value, `${part} present`);
          assert.ok(!row.private_jwk.includes(value), `${part} not stored in plaintext`);
          assert.ok(!row.public_jwk.includes(value), `${part} not in the public JWK`);
        }
        const publicJwk = JSON.parse(row.public_jwk) as Record<string, string>;
        assert.equal(publicJwk.kid, row.kid);
        assert.equal(publicJwk.n, jwk.n);
        assert.equal(publicJwk.d, undefined);
      }
    });

    test('a different installation secret cannot unseal the keys', async () => {
      const otherKey = deriveKey(Buffer.from('a different installation secret, 32+ chars'), 'signing-keys');
      for (const row of await rows()) assert.throws(() => unseal(otherKey, row.private_jwk));
      // Nor can the right secret under another purpose.
      const wrongPurpose = deriveKey(rt.secret, 'cookies');
      for (const row of await rows()) assert.throws(() => unseal(wrongPurpose, row.private_jwk));
    });

    test('providerJwks decrypts every key; only the current one may sign', async () => {
      const { keys } = await rt.keys.providerJwks();
      const states = await byState();
      assert.equal(keys.length, 2);
      assert.equal(keys[0]?.kid, states.current?.[0], 'current first');
      for (const jwk of keys) {
        assert.equal(typeof jwk.d, 'string', 'private part present');
        assert.equal(jwk.alg, 'RS256');
        assert.equal(jwk.use, 'sig');
      }
      assert.equal(keys[0]?.key_ops, undefined);
      assert.deepEqual(keys[1]?.key_ops, ['verify']);
    });

    test('rotate: next becomes current, current becomes previous with a retire_at, a fresh next appears', async () => {
      const before = await byState();
      const fingerprint = await rt.keys.fingerprint();
      const t0 = Math.floor(Date.now() / 1000);
      const list = await rt.keys.rotate();
      const t1 = Math.floor(Date.now() / 1000);

      const after = await byState();
      assert.deepEqual(after.current, before.next);
      assert.deepEqual(after.previous, before.current);
      assert.equal(after.next?.length, 1);
      assert.ok(!before.current?.includes(after.next?.[0] ?? '') && !before.next?.includes(after.next?.[0] ?? ''), 'a new next key');
      assert.notEqual(await rt.keys.fingerprint(), fingerprint);

      const previous = (await rows()).find((r) => r.state === 'previous');
      assert.ok(previous?.retire_at !== null && previous?.retire_at !== undefined);
      assert.equal(typeof previous.retire_at, 'number');
      assert.ok(previous.retire_at >= t0 + RETIRED_KEY_GRACE && previous.retire_at <= t1 + RETIRED_KEY_GRACE);
      assert.deepEqual(
        list.map((k) => k.state),
        ['current', 'next', 'previous'],
      );
      assert.equal(list[2]?.retire_at, new Date(previous.retire_at * 1000).toISOString());

      const { keys } = await rt.keys.providerJwks();
      assert.deepEqual(
        keys.map((k) => k.kid),
        [after.current?.[0], after.next?.[0], after.previous?.[0]],
      );
      assert.deepEqual(
        keys.map((k) => k.key_ops),
        [undefined, ['verify'], ['verify']],
      );
      for (const jwk of keys) assert.equal(typeof jwk.d, 'string');
    });

    test('keys are listed in the order they retire: the first two are stamped apart even when made within one millisecond', async (t) => {
      // A second installation whose first keys are made while the clock stands still.
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const fresh = await freshRuntime(kind);
      t.mock.timers.reset();
      try {
        const first = await fresh.runtime.keys.list();
        const kid = (state: string) => first.find((k) => k.state === state)?.kid;
        const stamp = (state: string) => first.find((k) => k.state === state)?.created ?? '';
        assert.ok(stamp('next') > stamp('current'), `the next key is stamped after the current one (${stamp('current')}, ${stamp('next')})`);
        await fresh.runtime.keys.rotate();
        await fresh.runtime.keys.rotate();
        const previous = (await fresh.runtime.keys.list()).filter((k) => k.state === 'previous').map((k) => k.kid);
        assert.deepEqual(previous, [kid('next'), kid('current')], 'the key demoted last comes first');
      } finally {
        await fresh.cleanup();
      }
    });

    test('a previous key whose retire_at has passed is no longer published, and is deleted on the next rotation', async () => {
      const db = rt.storage.db;
      const previous = (await rows()).find((r) => r.state === 'previous');
      assert.ok(previous);
      await db.updateTable('signing_keys').set({ retire_at: Math.floor(Date.now() / 1000) - 1 }).where('kid', '=', previous.kid).execute();
      const { keys } = await rt.keys.providerJwks();
      assert.ok(!keys.some((k) => k.kid === previous.kid));

      await rt.keys.rotate();
      const kids = (await rows()).map((r) => r.kid);
      assert.ok(!kids.includes(previous.kid), 'expired previous key deleted');
      const states = await byState();
      assert.equal(states.current?.length, 1);
      assert.equal(states.next?.length, 1);
      assert.equal(states.previous?.length, 1);
    });
  });
}
