/**
 * The user-portal settings of an app (issue 11 §3) through the REST API, on both databases:
 * show_in_portal (on by default: the tile shows once there is a Login URL), description, send_iss_on_launch
 * (on by default); explicit values win, updates keep what is not sent, refusals change nothing,
 * and the audit event names the fields changed. Migration 010 gives existing apps the same defaults.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_DESCRIPTION_LENGTH, createAppStore } from '../../../src/directory/apps.ts';
import { createGroupStore } from '../../../src/directory/groups.ts';
import { createUserStore } from '../../../src/directory/users.ts';
import { openStorage } from '../../../src/storage/db.ts';
import * as appPortal from '../../../src/storage/migrations/010_app_portal.ts';
import * as appPortalDefaultOn from '../../../src/storage/migrations/018_app_portal_default_on.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

let serial = 0;
const unique = (prefix: string) => `${prefix} ${++serial}-${Date.now().toString(36)}`;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`app portal settings (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let manager: string;

    // biome-ignore lint/suspicious/noExplicitAny: response bodies of every shape
    const api = (method: string, path: string, body?: unknown) => call<any>(gh, method, path, body, { key: manager });
    const create = async (body: Record<string, unknown> = {}) => {
      const response = await api('POST', '/api/apps', { label: unique('App'), redirect_uris: ['https://app.example.com/cb'], ...body });
      assert.equal(response.status, 201, response.text);
      return response.body.app as Record<string, unknown> & { id: string };
    };
    const portalFields = (app: Record<string, unknown>) => ({ show_in_portal: app.show_in_portal, description: app.description, send_iss_on_launch: app.send_iss_on_launch });

    before(async () => {
      gh = await startGatehouse(kind);
      manager = (await adminKey(gh, 'manager')).key;
    });
    after(() => gh?.close());

    test('defaults: shown in the portal (once there is a Login URL); no description; iss sent', async () => {
      const withLogin = await create({ login_url: 'https://app.example.com/login' });
      assert.deepEqual(portalFields(withLogin), { show_in_portal: true, description: '', send_iss_on_launch: true });
      const withoutLogin = await create();
      assert.deepEqual(portalFields(withoutLogin), { show_in_portal: true, description: '', send_iss_on_launch: true });
      // A Login URL added later brings the tile, with no second setting to remember.
      const later = await api('PATCH', `/api/apps/${withoutLogin.id}`, { login_url: 'https://app.example.com/later' });
      assert.equal(later.body.show_in_portal, true);
      const read = await api('GET', `/api/apps/${withLogin.id}`);
      assert.deepEqual(portalFields(read.body), portalFields(withLogin));
    });

    test('explicit values win over the defaults', async () => {
      const hidden = await create({ login_url: 'https://app.example.com/login', show_in_portal: false, send_iss_on_launch: false, description: 'The wiki — ünïcode' });
      assert.deepEqual(portalFields(hidden), { show_in_portal: false, description: 'The wiki — ünïcode', send_iss_on_launch: false });
      const shown = await create({ show_in_portal: true });
      assert.equal(shown.show_in_portal, true, 'kept on even without a Login URL (it shows once one is set)');
      const longest = await create({ description: 'd'.repeat(MAX_DESCRIPTION_LENGTH) });
      assert.equal(longest.description, 'd'.repeat(MAX_DESCRIPTION_LENGTH));
    });

    test('update changes only what is sent, and the audit event names the changed fields', async () => {
      const app = await create({ login_url: 'https://app.example.com/login', description: 'Before' });
      const changed = await api('PATCH', `/api/apps/${app.id}`, { show_in_portal: false, description: 'After', send_iss_on_launch: false });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual(portalFields(changed.body), { show_in_portal: false, description: 'After', send_iss_on_launch: false });
      const { events } = await gh.directory.audit.list({ action: 'app.update', target: app.id });
      assert.deepEqual(events.find((e) => e.outcome === 'success')?.details, { fields: ['show_in_portal', 'description', 'send_iss_on_launch'] });

      // Removing and setting the Login URL later does not flip an explicit choice.
      const relabelled = await api('PATCH', `/api/apps/${app.id}`, { login_url: null });
      assert.equal(relabelled.body.show_in_portal, false);
      const again = await api('PATCH', `/api/apps/${app.id}`, { login_url: 'https://app.example.com/login2', label: unique('Renamed') });
      assert.deepEqual(portalFields(again.body), { show_in_portal: false, description: 'After', send_iss_on_launch: false });
      const back = await api('PATCH', `/api/apps/${app.id}`, { show_in_portal: true, send_iss_on_launch: true, description: '' });
      assert.deepEqual(portalFields(back.body), { show_in_portal: true, description: '', send_iss_on_launch: true });
    });

    test('invalid values are refused and change nothing', async () => {
      const app = await create({ login_url: 'https://app.example.com/login', description: 'Kept' });
      const before = (await api('GET', `/api/apps/${app.id}`)).body;
      const refusals: Array<[Record<string, unknown>, string]> = [
        [{ description: 'line one\nline two' }, 'app.invalid_description'],
        [{ description: 'tab\there' }, 'app.invalid_description'],
        [{ description: 'bell\u0007' }, 'app.invalid_description'],
        [{ description: 'c1\u0085' }, 'app.invalid_description'],
        [{ description: 'x'.repeat(MAX_DESCRIPTION_LENGTH + 1) }, 'request.invalid'],
        [{ show_in_portal: 'yes' }, 'request.invalid'],
        [{ send_iss_on_launch: 'no' }, 'request.invalid'],
        [{ show_in_portal: {} }, 'request.invalid'],
        [{ show_in_portal: false, description: 'ok\r' }, 'app.invalid_description'],
      ];
      for (const [body, code] of refusals) {
        const refused = await api('PATCH', `/api/apps/${app.id}`, body);
        assert.equal(refused.status, 400, `${JSON.stringify(body)}: ${refused.text}`);
        assert.equal(refused.body.code, code, JSON.stringify(body));
        const created = await api('POST', '/api/apps', { label: unique('Refused'), redirect_uris: ['https://app.example.com/cb'], ...body });
        assert.equal(created.status, 400, `create ${JSON.stringify(body)}: ${created.text}`);
        assert.equal(created.body.code, code);
      }
      assert.deepEqual((await api('GET', `/api/apps/${app.id}`)).body, before, 'nothing changed');
    });
  });
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`migrations 010 and 018 on existing apps (${kind})`, { skip }, () => {
    test('010: an existing app shows in the portal when it has a Login URL; 018: every app does by default', async () => {
      const { config, cleanup } = await freshConfig(kind);
      const storage = await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
      try {
        const db = storage.db;
        const apps = createAppStore(db, createGroupStore(db, createUserStore(db)));
        const withLogin = (await apps.create({ label: 'With login', redirect_uris: ['https://a.example.com/cb'], login_url: 'https://a.example.com/login' })).app;
        const withoutLogin = (await apps.create({ label: 'Without login', redirect_uris: ['https://b.example.com/cb'] })).app;
        // The apps as they were before 010: without its columns; then 010 runs over them.
        await db.schema.alterTable('apps').dropColumn('show_in_portal').execute();
        await db.schema.alterTable('apps').dropColumn('send_iss_on_launch').execute();
        await appPortal.up(db);
        const portalFields = (app: { show_in_portal: boolean; description: string; send_iss_on_launch: boolean }) => ({
          show_in_portal: app.show_in_portal,
          description: app.description,
          send_iss_on_launch: app.send_iss_on_launch,
        });
        assert.deepEqual(portalFields(await apps.get(withLogin.id)), { show_in_portal: true, description: '', send_iss_on_launch: true });
        assert.deepEqual(portalFields(await apps.get(withoutLogin.id)), { show_in_portal: false, description: '', send_iss_on_launch: true });
        // 018: on by default for every app; the one without a Login URL shows once it gets one.
        await appPortalDefaultOn.up(db);
        assert.equal((await apps.get(withoutLogin.id)).show_in_portal, true);
        assert.equal((await apps.get(withLogin.id)).show_in_portal, true);
      } finally {
        await storage.close();
        await cleanup();
      }
    });
  });
}
