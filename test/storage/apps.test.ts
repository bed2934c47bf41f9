import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AppInput } from '../../src/directory/apps.ts';
import { clientSecretMatches, hashClientSecret } from '../../src/directory/secrets.ts';
import type { Runtime } from '../../src/runtime.ts';
import { ALL_USERS_GROUP } from '../../src/storage/migrations/001_initial.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';
import { rejectsWith, unique } from '../helpers/domain.ts';

const input = (overrides: Partial<AppInput> = {}): AppInput => ({ label: unique('App '), redirect_uris: ['https://app.example.com/callback'], ...overrides });

for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    const appRow = (id: string) => rt.storage.db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const countApps = async () => (await rt.storage.db.selectFrom('apps').select('id').execute()).length;

    test('create returns the client secret once; only its sha256 hash is stored', async () => {
      const { app, clientSecret } = await rt.directory.apps.create(
        input({ scopes: ['email', 'profile'], attribute_mapping: [{ claim: 'department', source: 'attribute', attribute: 'dept' }], groups_claim: 'groups' }),
      );
      assert.equal(typeof clientSecret, 'string');
      assert.ok(clientSecret && clientSecret.length >= 43, '256 bits');
      assert.match(app.id, /^[0-9a-f]{24}$/);
      assert.match(app.client_id, /^[0-9a-f-]{36}$/);
      assert.equal(app.active, true);
      assert.equal(app.auth_method, 'client_secret_basic');
      assert.equal(app.has_client_secret, true);
      assert.deepEqual(app.redirect_uris, ['https://app.example.com/callback']);
      assert.deepEqual(app.scopes, ['email', 'profile']);
      assert.equal(app.groups_claim, 'groups');

      const row = await appRow(app.id);
      assert.match(row.client_secret_hash ?? '', /^sha256:/);
      assert.equal(row.client_secret_hash, hashClientSecret(clientSecret as string));
      assert.ok(!JSON.stringify(row).includes(clientSecret as string), 'the secret appears nowhere in the stored row');
      assert.ok(clientSecretMatches(clientSecret, row.client_secret_hash));
      assert.ok(!clientSecretMatches(`${clientSecret}x`, row.client_secret_hash));

      // Reading the app back never yields the secret again.
      const again = await rt.directory.apps.get(app.client_id);
      assert.deepEqual(again, app);
      assert.ok(!JSON.stringify(again).includes(clientSecret as string));
      assert.deepEqual(await rt.directory.apps.get(app.id), app);
      assert.equal((await rt.directory.apps.rowByClientId(app.client_id))?.id, app.id);
      assert.equal(await rt.directory.apps.rowByClientId('no-such-client'), undefined);
    });

    test('a public client (auth method none) has no secret', async () => {
      const { app, clientSecret } = await rt.directory.apps.create(input({ auth_method: 'none' }));
      assert.equal(clientSecret, null);
      assert.equal(app.has_client_secret, false);
      assert.equal((await appRow(app.id)).client_secret_hash, null);
      await rejectsWith(rt.directory.apps.regenerateSecret(app.id), 'app.public_client', 409);
    });

    test('redirect URIs must be absolute and fragment-free; nothing is written otherwise', async () => {
      const before = await countApps();
      await rejectsWith(rt.directory.apps.create(input({ redirect_uris: ['/callback'] })), 'app.invalid_uri', 400);
      await rejectsWith(rt.directory.apps.create(input({ redirect_uris: ['https://app.example.com/cb#frag'] })), 'app.invalid_uri', 400);
      await rejectsWith(rt.directory.apps.create(input({ redirect_uris: ['https://ok.example.com/cb', 'javascript:alert(1)'] })), 'app.invalid_uri', 400);
      await rejectsWith(rt.directory.apps.create(input({ post_logout_redirect_uris: ['relative/path'] })), 'app.invalid_uri', 400);
      await rejectsWith(rt.directory.apps.create(input({ redirect_uris: [] })), 'app.redirect_uri_required', 400);
      assert.equal(await countApps(), before);

      // Reverse-domain private schemes (native apps) are allowed.
      const { app } = await rt.directory.apps.create(input({ redirect_uris: ['com.example.app:/oauth2redirect'], auth_method: 'none' }));
      assert.deepEqual(app.redirect_uris, ['com.example.app:/oauth2redirect']);
    });

    test('attribute mappings: unknown fields and reserved claims are refused', async () => {
      const before = await countApps();
      await rejectsWith(
        rt.directory.apps.create(input({ attribute_mapping: [{ claim: 'pw', source: 'field', field: 'password_hash' as 'email' }] })),
        'app.unknown_field',
        400,
      );
      await rejectsWith(rt.directory.apps.create(input({ attribute_mapping: [{ claim: 'sub', source: 'constant', value: 'x' }] })), 'app.reserved_claim', 400);
      await rejectsWith(rt.directory.apps.create(input({ groups_claim: 'aud' })), 'app.reserved_claim', 400);
      await rejectsWith(
        rt.directory.apps.create(
          input({
            attribute_mapping: [
              { claim: 'x', source: 'constant', value: '1' },
              { claim: 'x', source: 'field', field: 'email' },
            ],
          }),
        ),
        'app.duplicate_claim',
        400,
      );
      assert.equal(await countApps(), before);

      const mapping = [
        { claim: 'mail', source: 'field', field: 'email' },
        { claim: 'tenant', source: 'constant', value: 'acme' },
      ] as const;
      const { app } = await rt.directory.apps.create(input({ attribute_mapping: [...mapping] }));
      assert.deepEqual(app.attribute_mapping, mapping);
    });

    test('regenerateSecret replaces the stored hash; the old secret stops matching', async () => {
      const { app, clientSecret: oldSecret } = await rt.directory.apps.create(input());
      const { app: updated, clientSecret: newSecret } = await rt.directory.apps.regenerateSecret(app.client_id);
      assert.notEqual(newSecret, oldSecret);
      assert.equal(updated.has_client_secret, true);
      const row = await appRow(app.id);
      assert.ok(clientSecretMatches(newSecret, row.client_secret_hash));
      assert.ok(!clientSecretMatches(oldSecret, row.client_secret_hash));
      assert.ok(!JSON.stringify(row).includes(newSecret));
    });

    test('update validates, keeps the id and client_id, and switching to a public client drops the secret', async () => {
      const { app } = await rt.directory.apps.create(input());
      await rejectsWith(rt.directory.apps.update(app.id, { redirect_uris: ['https://x.example.com/#a'] }), 'app.invalid_uri', 400);
      const updated = await rt.directory.apps.update(app.id, { description: 'New text', redirect_uris: ['https://new.example.com/cb'] });
      assert.equal(updated.client_id, app.client_id);
      assert.equal(updated.description, 'New text');
      assert.deepEqual(updated.redirect_uris, ['https://new.example.com/cb']);
      const pub = await rt.directory.apps.update(app.id, { auth_method: 'none' });
      assert.equal(pub.has_client_secret, false);
      assert.equal((await appRow(app.id)).client_secret_hash, null);
    });

    test('activate and deactivate', async () => {
      const { app } = await rt.directory.apps.create(input());
      assert.equal((await rt.directory.apps.deactivate(app.id)).active, false);
      assert.equal((await appRow(app.id)).active, 0);
      assert.equal((await rt.directory.apps.activate(app.id)).active, true);
    });

    test('bind and unbind groups', async () => {
      const { app } = await rt.directory.apps.create(input());
      const group = await rt.directory.groups.create(unique('Bound'));
      await rt.directory.apps.bind(app.id, group.name);
      await rt.directory.apps.bind(app.client_id, group.id); // idempotent
      await rt.directory.apps.bind(app.id, ALL_USERS_GROUP.name);
      const bound = await rt.directory.apps.boundGroups(app.id);
      assert.deepEqual(bound.map((g) => g.id).sort(), [group.id, (await rt.directory.groups.get(ALL_USERS_GROUP.name)).id].sort());

      await rt.directory.apps.unbind(app.id, group.id);
      assert.deepEqual((await rt.directory.apps.boundGroups(app.id)).map((g) => g.name), [ALL_USERS_GROUP.name]);
      await rejectsWith(rt.directory.apps.unbind(app.id, group.id), 'app.not_bound', 404);
      await rejectsWith(rt.directory.apps.bind(app.id, unique('nogroup')), 'group.not_found', 404);
      await rejectsWith(rt.directory.apps.bind(unique('noapp'), group.id), 'app.not_found', 404);
    });

    test('delete removes the app, its bindings and its OIDC payloads, and nothing of other apps', async () => {
      const { app } = await rt.directory.apps.create(input());
      const { app: other } = await rt.directory.apps.create(input());
      const group = await rt.directory.groups.create(unique('Del'));
      await rt.directory.apps.bind(app.id, group.id);
      await rt.directory.apps.bind(other.id, group.id);
      const payload = (id: string, clientId: string) => ({
        model: 'AccessToken',
        id,
        payload: JSON.stringify({ clientId }),
        grant_id: `grant-${id}`,
        client_id: clientId,
        uid: null,
        user_code: null,
        expires_at: Math.floor(Date.now() / 1000) + 3600,
        consumed_at: null,
      });
      await rt.storage.db
        .insertInto('oidc_payloads')
        .values([payload(unique('t'), app.client_id), payload(unique('t'), app.client_id), payload(unique('t'), other.client_id)])
        .execute();

      const deleted = await rt.directory.apps.delete(app.client_id);
      assert.equal(deleted.id, app.id);
      await rejectsWith(rt.directory.apps.get(app.id), 'app.not_found', 404);
      const db = rt.storage.db;
      assert.deepEqual(await db.selectFrom('app_bindings').selectAll().where('app_id', '=', app.id).execute(), []);
      assert.deepEqual(await db.selectFrom('oidc_payloads').selectAll().where('client_id', '=', app.client_id).execute(), []);
      assert.equal((await db.selectFrom('app_bindings').selectAll().where('app_id', '=', other.id).execute()).length, 1);
      assert.equal((await db.selectFrom('oidc_payloads').selectAll().where('client_id', '=', other.client_id).execute()).length, 1);
      assert.equal((await rt.directory.groups.get(group.id)).id, group.id);
    });

    test('apps sharing a label must be addressed by id or client_id', async () => {
      const label = unique('Twin ');
      const { app: a } = await rt.directory.apps.create(input({ label }));
      const { app: b } = await rt.directory.apps.create(input({ label }));
      await rejectsWith(rt.directory.apps.get(label), 'app.ambiguous', 409);
      assert.equal((await rt.directory.apps.get(a.id)).id, a.id);
      assert.equal((await rt.directory.apps.get(b.client_id)).id, b.id);
    });
  });
}
