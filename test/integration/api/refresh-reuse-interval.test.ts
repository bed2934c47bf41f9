/**
 * The refresh-token reuse interval of an app through the REST API, on both databases: 0 by default,
 * 0-60 seconds accepted, anything else refused without a change (see security/refresh-reuse-grace).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`apps API: refresh-token reuse interval (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let key: string;
    // biome-ignore lint/suspicious/noExplicitAny: response bodies of every shape
    const api = (method: string, path: string, body?: unknown) => call<any>(gh, method, path, body, { key });

    before(async () => {
      gh = await startGatehouse(kind);
      key = (await adminKey(gh, 'manager')).key;
    });
    after(() => gh?.close());

    test('0 by default; set on create and changed on update; shown on read', async () => {
      const plain = await api('POST', '/api/apps', { label: 'Plain', redirect_uris: ['https://plain.example.com/cb'], refresh_token: true });
      assert.equal(plain.status, 201, plain.text);
      assert.equal(plain.body.app.refresh_token_reuse_interval, 0);

      const tabs = await api('POST', '/api/apps', { label: 'Tabs', redirect_uris: ['https://tabs.example.com/cb'], refresh_token: true, refresh_token_reuse_interval: 10 });
      assert.equal(tabs.status, 201, tabs.text);
      assert.equal(tabs.body.app.refresh_token_reuse_interval, 10);
      const id = tabs.body.app.id as string;
      assert.equal((await api('GET', `/api/apps/${id}`)).body.refresh_token_reuse_interval, 10);

      for (const seconds of [60, 0, 1]) {
        const changed = await api('PATCH', `/api/apps/${id}`, { refresh_token_reuse_interval: seconds });
        assert.equal(changed.status, 200, changed.text);
        assert.equal(changed.body.refresh_token_reuse_interval, seconds);
      }
      // Other changes leave it as it is.
      assert.equal((await api('PATCH', `/api/apps/${id}`, { label: 'Tabs again' })).body.refresh_token_reuse_interval, 1);
    });

    test('more than 60 seconds, negative, fractional or non-numeric intervals are refused and change nothing', async () => {
      const created = await api('POST', '/api/apps', { label: 'Bounds', redirect_uris: ['https://bounds.example.com/cb'], refresh_token: true, refresh_token_reuse_interval: 5 });
      const id = created.body.app.id as string;
      // (The API coerces for every integer field: "10" is 10, [10] is 10, null is 0; those are not refused.)
      for (const value of [61, -1, 1.5, '10s', 'soon', 3600]) {
        for (const [method, path, body] of [
          ['POST', '/api/apps', { label: `Bad ${String(value)}`, redirect_uris: ['https://bad.example.com/cb'], refresh_token_reuse_interval: value }],
          ['PATCH', `/api/apps/${id}`, { refresh_token_reuse_interval: value }],
        ] as const) {
          const response = await api(method, path, body);
          assert.equal(response.status, 400, `${method} ${JSON.stringify(value)}: ${response.text}`);
          assert.equal(response.body.code, 'request.invalid');
          assert.ok(
            response.body.details.some((d: { path: string }) => d.path === 'refresh_token_reuse_interval'),
            JSON.stringify(response.body.details),
          );
        }
      }
      assert.equal((await api('GET', `/api/apps/${id}`)).body.refresh_token_reuse_interval, 5);
      assert.equal((await api('GET', '/api/apps?search=Bad')).body.total, 0);
    });

    test('the directory refuses an interval outside 0-60 seconds with its own code', async () => {
      const { app } = await gh.directory.apps.create({ label: 'Direct', redirect_uris: ['https://direct.example.com/cb'] });
      for (const value of [61, -1, 0.5]) {
        await assert.rejects(gh.directory.apps.update(app.id, { refresh_token_reuse_interval: value }), (error: { code?: string; status?: number }) => {
          assert.equal(error.code, 'app.invalid_refresh_token_reuse_interval');
          assert.equal(error.status, 400);
          return true;
        });
      }
      assert.equal((await gh.directory.apps.get(app.id)).refresh_token_reuse_interval, 0);
    });
  });
}
