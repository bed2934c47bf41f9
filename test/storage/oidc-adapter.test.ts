/**
 * The adapter oidc-provider stores everything through: sessions, interactions, codes, tokens and
 * grants as rows, expiry honoured on read and purged, token values never stored as such, and
 * grants withheld while the directory denies access.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { createAccessResolver } from '../../src/directory/access.ts';
import { createAdapterClass, purgeExpired, sessionIdSealingKey, storageKey } from '../../src/oidc/adapter.ts';
import type { Runtime } from '../../src/runtime.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`oidc adapter (${kind})`, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    let Adapter: ReturnType<typeof createAdapterClass>;
    let userId: string;
    let clientId: string;

    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
      // The storage's own read and write paths, as the server uses them (group commit on SQLite).
      Adapter = createAdapterClass(rt.storage.db, createAccessResolver(rt.storage.db), { read: rt.storage.read, write: rt.storage.write, sessionIdKey: sessionIdSealingKey(rt.secret) });
      userId = (await rt.directory.users.create({ username: 'ola', email: 'ola@example.com' })).id;
      const { app } = await rt.directory.apps.create({ label: 'Adapter app', redirect_uris: ['https://app.example.test/cb'] });
      clientId = app.client_id;
      await rt.directory.apps.bind(app.id, 'All Users');
    });
    after(() => cleanup());

    const payload = (extra: AdapterPayload = {}): AdapterPayload => ({ accountId: userId, clientId, grantId: 'grant-1', ...extra });

    test('a token is stored under a hash of its value, and found again by the value', async () => {
      const tokens = new Adapter('AccessToken');
      await tokens.upsert('raw-token-value', payload({ jti: 'raw-token-value', kind: 'AccessToken' }), 3600);
      const rows = await rt.storage.db.selectFrom('oidc_payloads').selectAll().where('model', '=', 'AccessToken').execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.id, storageKey('raw-token-value'));
      assert.doesNotMatch(JSON.stringify(rows[0]), /raw-token-value/);
      assert.equal(rows[0]?.account_id, userId);
      assert.equal(rows[0]?.client_id, clientId);
      const found = await tokens.find('raw-token-value');
      assert.equal(found?.jti, 'raw-token-value');
      assert.equal(found?.accountId, userId);
    });

    test('consume marks a row consumed; destroy removes it', async () => {
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('code-1', payload({ jti: 'code-1' }), 60);
      assert.equal((await codes.find('code-1'))?.consumed, undefined);
      await codes.consume('code-1');
      assert.equal(typeof (await codes.find('code-1'))?.consumed, 'number');
      await codes.destroy('code-1');
      assert.equal(await codes.find('code-1'), undefined);
    });

    test('an expired row is not found, and the purge removes only expired rows', async () => {
      const tokens = new Adapter('RefreshToken');
      await tokens.upsert('old', payload({ jti: 'old' }), 3600);
      await tokens.upsert('fresh', payload({ jti: 'fresh' }), 3600);
      await rt.storage.db
        .updateTable('oidc_payloads')
        .set({ expires_at: Math.floor(Date.now() / 1000) - 1 })
        .where('id', '=', storageKey('old'))
        .execute();
      assert.equal(await tokens.find('old'), undefined);
      assert.ok((await purgeExpired(rt.storage.db)) >= 1);
      const ids = (await rt.storage.db.selectFrom('oidc_payloads').select('id').where('model', '=', 'RefreshToken').execute()).map((r) => r.id);
      assert.ok(!ids.includes(storageKey('old')));
      assert.ok(ids.includes(storageKey('fresh')));
    });

    test('revokeByGrantId removes every row of that grant for the model', async () => {
      const tokens = new Adapter('AccessToken');
      await tokens.upsert('g2-a', payload({ jti: 'g2-a', grantId: 'grant-2' }), 3600);
      await tokens.upsert('g2-b', payload({ jti: 'g2-b', grantId: 'grant-2' }), 3600);
      await tokens.upsert('g3-a', payload({ jti: 'g3-a', grantId: 'grant-3' }), 3600);
      await tokens.revokeByGrantId('grant-2');
      assert.equal(await tokens.find('g2-a'), undefined);
      assert.equal(await tokens.find('g2-b'), undefined);
      assert.ok(await tokens.find('g3-a'));
    });

    test('sessions are found by uid and keep their id', async () => {
      const sessions = new Adapter('Session');
      await sessions.upsert('session-id', { jti: 'session-id', uid: 'uid-1', accountId: userId }, 3600);
      const found = await sessions.findByUid('uid-1');
      assert.equal(found?.jti, 'session-id');
      assert.equal(await sessions.findByUid('uid-unknown'), undefined);
    });

    test('a grant is withheld while the directory denies access, and back when it allows', async () => {
      const grants = new Adapter('Grant');
      await grants.upsert('grant-9', payload({ jti: 'grant-9' }), 3600);
      assert.ok(await grants.find('grant-9'));
      await rt.directory.apps.deactivate(clientId);
      assert.equal(await grants.find('grant-9'), undefined);
      await rt.directory.apps.activate(clientId);
      assert.ok(await grants.find('grant-9'));
    });

    test('clients are read from the apps table, only while active', async () => {
      const clients = new Adapter('Client');
      const metadata = await clients.find(clientId);
      assert.equal(metadata?.client_id, clientId);
      assert.match(String(metadata?.client_secret), /^sha256:/);
      await rt.directory.apps.deactivate(clientId);
      assert.equal(await clients.find(clientId), undefined);
      await rt.directory.apps.activate(clientId);
    });

    test('ids with a NUL byte are simply not found', async () => {
      for (const model of ['AccessToken', 'Client', 'Session']) {
        assert.equal(await new Adapter(model).find('x\u0000y'), undefined);
      }
      assert.equal(await new Adapter('Session').findByUid('x\u0000y'), undefined);
    });

    test('suspending the user deletes their sessions, grants and tokens', async () => {
      const tokens = new Adapter('AccessToken');
      await tokens.upsert('before-suspension', payload({ jti: 'before-suspension' }), 3600);
      await rt.directory.users.suspend('ola');
      const left = await rt.storage.db.selectFrom('oidc_payloads').select('id').where('account_id', '=', userId).execute();
      assert.deepEqual(left, []);
      await rt.directory.users.activate('ola');
      assert.equal(await tokens.find('before-suspension'), undefined);
    });
  });
}
