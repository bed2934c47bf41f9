/**
 * The apps routes of the directory REST API, over real HTTP on both databases: every setting of a
 * custom OIDC app, the one-time client secret (checked at the real token endpoint), icons, group
 * bindings, paging, validation, permissions, and the audit event each write leaves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_ICON_BYTES } from '../../../src/directory/apps.ts';
import { ALL_USERS_GROUP } from '../../../src/storage/migrations/001_initial.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

let serial = 0;
const unique = (prefix: string) => `${prefix} ${++serial}-${Date.now().toString(36)}`;

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><script>alert(1)</script><rect width="1" height="1"/></svg>');

const FULL_APP = {
  description: 'The wiki',
  redirect_uris: ['https://wiki.example.com/callback', 'com.example.wiki:/oauth'],
  post_logout_redirect_uris: ['https://wiki.example.com/bye'],
  login_url: 'https://wiki.example.com/login',
  auth_method: 'client_secret_post',
  refresh_token: true,
  scopes: ['email', 'profile'],
  attribute_mapping: [
    { claim: 'department', source: 'attribute', attribute: 'dept' },
    { claim: 'login', source: 'field', field: 'username' },
    { claim: 'tenant', source: 'constant', value: 'acme' },
  ],
  groups_claim: 'groups',
  refresh_token_ttl: 7200,
  refresh_token_reuse_interval: 15,
  show_in_portal: false,
  send_iss_on_launch: false,
} as const;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`apps API (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let manager: string;
    let reader: string;
    let readOnlyScope: string;

    // biome-ignore lint/suspicious/noExplicitAny: response bodies of every shape
    const api = (method: string, path: string, body?: unknown, key: string | undefined = manager) => call<any>(gh, method, path, body, { key });
    const create = async (body: Record<string, unknown> = {}) => {
      const response = await api('POST', '/api/apps', { label: unique('App'), redirect_uris: ['https://app.example.com/cb'], ...body });
      assert.equal(response.status, 201, response.text);
      return response.body as { app: Record<string, unknown> & { id: string; client_id: string; label: string }; client_secret: string | null };
    };

    /** The newest successful audit event with this action on `targetId`. */
    async function auditFor(action: string, targetId: string) {
      const { events } = await gh.directory.audit.list({ action, target: targetId });
      const event = events.find((e) => e.outcome === 'success');
      assert.ok(event, `an audit event ${action} for ${targetId}`);
      return event;
    }

    function assertError(response: { status: number; body: { code?: string } }, status: number, code?: string) {
      assert.equal(response.status, status, JSON.stringify(response.body));
      if (code) assert.equal(response.body.code, code);
    }

    /** A token request that can only fail: client authentication decides between 401 invalid_client and 400 invalid_grant. */
    async function tokenError(clientId: string, secret: string): Promise<[number, string]> {
      const response = await fetch(`${gh.issuer}/oauth2/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://app.example.com/cb' }).toString(),
      });
      return [response.status, ((await response.json()) as { error: string }).error];
    }

    before(async () => {
      gh = await startGatehouse(kind);
      manager = (await adminKey(gh, 'manager')).key;
      reader = (await adminKey(gh, 'read_only')).key;
      readOnlyScope = (await adminKey(gh, 'administrator', { scope: 'read_only' })).key;
    });
    after(() => gh?.close());

    test('create returns the client secret once; reading the app never shows it; the change is audited', async () => {
      const label = unique('Wiki');
      const created = await api('POST', '/api/apps', { label, ...FULL_APP });
      assert.equal(created.status, 201, created.text);
      const { app, client_secret: secret } = created.body;
      assert.equal(typeof secret, 'string');
      assert.ok(secret.length >= 43);
      assert.match(app.id, /^[0-9a-f]{24}$/);
      assert.deepEqual(app, {
        id: app.id,
        label,
        active: true,
        client_id: app.client_id,
        has_client_secret: true,
        ...FULL_APP,
        icon_url: null,
        issuer: gh.issuer,
        discovery_url: `${gh.issuer}/.well-known/openid-configuration`,
        created: app.created,
        updated: app.updated,
      });
      const hash = (await gh.directory.apps.rowByClientId(app.client_id))?.client_secret_hash as string;

      for (const ref of [app.id, app.client_id, label]) {
        const got = await api('GET', `/api/apps/${encodeURIComponent(ref)}`, undefined, reader);
        assert.equal(got.status, 200, got.text);
        assert.deepEqual(got.body, app);
        assert.ok(!got.text.includes(secret) && !got.text.includes(hash), 'neither the secret nor its hash');
      }
      const list = await api('GET', '/api/apps?limit=1000', undefined, reader);
      assert.ok(list.body.data.some((a: { id: string }) => a.id === app.id));
      assert.ok(!list.text.includes(secret) && !list.text.includes(hash));

      const event = await auditFor('app.create', app.id);
      assert.deepEqual(event.target, { type: 'app', id: app.id, name: label });
      assert.ok(!JSON.stringify(event).includes(secret));

      // A public client has no secret at all.
      const publicApp = await create({ auth_method: 'none' });
      assert.equal(publicApp.client_secret, null);
      assert.equal(publicApp.app.has_client_secret, false);
      assert.equal(publicApp.app.auth_method, 'none');

      // Defaults.
      const plain = await create();
      assert.equal(plain.app.auth_method, 'client_secret_basic');
      assert.equal(plain.app.refresh_token, false);
      assert.equal(plain.app.refresh_token_ttl, 30 * 24 * 3600);
      assert.deepEqual(plain.app.scopes, []);
      assert.deepEqual(plain.app.attribute_mapping, []);
      assert.equal(plain.app.groups_claim, null);
      assert.equal(plain.app.login_url, null);
    });

    test('validation: unknown fields, bad redirect URIs, bad mappings', async () => {
      const base = { label: unique('Bad'), redirect_uris: ['https://ok.example.com/cb'] };
      const unknown = await api('POST', '/api/apps', { ...base, client_secret: 'mine' });
      assertError(unknown, 400, 'request.invalid');
      assert.ok(unknown.body.details.some((d: { path: string }) => d.path === 'client_secret'), JSON.stringify(unknown.body.details));

      for (const uri of ['not a url', 'https://ok.example.com/cb#frag', 'javascript:alert(1)', '/relative']) {
        const response = await api('POST', '/api/apps', { ...base, redirect_uris: ['https://ok.example.com/cb', uri] });
        assertError(response, 400, 'app.invalid_uri');
        assert.deepEqual(
          response.body.details.map((d: { path: string }) => d.path),
          ['redirect_uris[1]'],
        );
      }
      assertError(await api('POST', '/api/apps', { ...base, login_url: 'nope' }), 400, 'app.invalid_uri');
      assertError(await api('POST', '/api/apps', { ...base, post_logout_redirect_uris: ['x#y'] }), 400, 'app.invalid_uri');

      const missing = await api('POST', '/api/apps', { label: unique('Bad') });
      assertError(missing, 400, 'request.invalid');
      assert.ok(missing.body.details.some((d: { path: string }) => d.path === 'redirect_uris'));
      assertError(await api('POST', '/api/apps', { ...base, redirect_uris: [] }), 400);
      assertError(await api('POST', '/api/apps', { ...base, auth_method: 'private_key_jwt' }), 400, 'request.invalid');
      assertError(await api('POST', '/api/apps', { ...base, scopes: ['openid'] }), 400, 'request.invalid');
      assertError(await api('POST', '/api/apps', { ...base, refresh_token_ttl: 10 }), 400, 'request.invalid');
      assertError(await api('POST', '/api/apps', { ...base, attribute_mapping: [{ claim: 'sub', source: 'field', field: 'email' }] }), 400, 'app.reserved_claim');
      assertError(await api('POST', '/api/apps', { ...base, attribute_mapping: [{ claim: 'x', source: 'field', field: 'password_hash' }] }), 400, 'request.invalid');
      assertError(await api('POST', '/api/apps', { ...base, attribute_mapping: [{ claim: 'x', source: 'constant', value: 'v', extra: 1 }] }), 400, 'request.invalid');
      for (const [mapping, path] of [
        [{ claim: 'x', source: 'attribute' }, 'attribute_mapping[0].attribute'],
        [{ claim: 'x', source: 'constant', value: 'v', field: 'email' }, 'attribute_mapping[0].field'],
        [{ claim: 'x', source: 'attribute', attribute: '1 bad' }, 'attribute_mapping[0].attribute'],
      ] as const) {
        const response = await api('POST', '/api/apps', { ...base, attribute_mapping: [mapping] });
        assertError(response, 400, 'request.invalid');
        assert.ok(response.body.details.some((d: { path: string }) => d.path === path), JSON.stringify(response.body.details));
      }
      assertError(
        await api('POST', '/api/apps', {
          ...base,
          attribute_mapping: [
            { claim: 'x', source: 'constant', value: 'a' },
            { claim: 'x', source: 'constant', value: 'b' },
          ],
        }),
        400,
        'app.duplicate_claim',
      );
      assertError(await api('POST', '/api/apps', { ...base, icon: null }), 400, 'request.invalid');
      assert.equal((await gh.directory.audit.list({ action: 'app.create', target: base.label })).events[0]?.outcome, 'failure');
    });

    test('change an app: only the fields sent; a switch to a public client drops the secret', async () => {
      const { app } = await create({ scopes: ['email'] });
      const label = unique('Renamed');
      const changed = await api('PATCH', `/api/apps/${app.client_id}`, { label, redirect_uris: ['https://new.example.com/cb'], groups_claim: 'roles', login_url: null });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.body.label, label);
      assert.deepEqual(changed.body.redirect_uris, ['https://new.example.com/cb']);
      assert.equal(changed.body.groups_claim, 'roles');
      assert.deepEqual(changed.body.scopes, ['email'], 'unchanged');
      assert.equal(changed.body.created, app.created);
      const event = await auditFor('app.update', app.id);
      assert.deepEqual(event.target, { type: 'app', id: app.id, name: label });
      assert.deepEqual(event.details, { fields: ['label', 'redirect_uris', 'groups_claim', 'login_url'] });

      assertError(await api('PATCH', `/api/apps/${app.id}`, {}), 400, 'request.invalid');
      const unknown = await api('PATCH', `/api/apps/${app.id}`, { active: false });
      assertError(unknown, 400, 'request.invalid');
      assert.ok(unknown.body.details.some((d: { path: string }) => d.path === 'active'));
      assertError(await api('PATCH', `/api/apps/${app.id}`, { redirect_uris: ['ftp://x'] }), 400, 'app.invalid_uri');
      assertError(await api('PATCH', '/api/apps/no-such-app', { label: 'x' }), 404, 'app.not_found');

      const made = await api('PATCH', `/api/apps/${app.id}`, { auth_method: 'none' });
      assert.equal(made.body.has_client_secret, false);
      const back = await api('PATCH', `/api/apps/${app.id}`, { auth_method: 'client_secret_basic' });
      assert.equal(back.body.has_client_secret, false, 'a secret is issued only by POST /secret');
      const issued = await api('POST', `/api/apps/${app.id}/secret`);
      assert.equal(issued.status, 200);
      assert.equal(issued.body.app.has_client_secret, true);
    });

    test('regenerating the secret shows the new one once and retires the old one at the token endpoint', async () => {
      const { app, client_secret: oldSecret } = await create();
      assert.deepEqual(await tokenError(app.client_id, oldSecret as string), [400, 'invalid_grant']);

      const regenerated = await api('POST', `/api/apps/${app.id}/secret`);
      assert.equal(regenerated.status, 200, regenerated.text);
      const newSecret = regenerated.body.client_secret as string;
      assert.equal(typeof newSecret, 'string');
      assert.notEqual(newSecret, oldSecret);
      assert.equal(regenerated.body.app.id, app.id);
      assert.equal(regenerated.body.app.has_client_secret, true);

      assert.deepEqual(await tokenError(app.client_id, oldSecret as string), [401, 'invalid_client']);
      assert.deepEqual(await tokenError(app.client_id, newSecret), [400, 'invalid_grant']);
      assert.ok(!(await api('GET', `/api/apps/${app.id}`)).text.includes(newSecret));

      const event = await auditFor('app.regenerate_secret', app.id);
      assert.deepEqual(event.target, { type: 'app', id: app.id, name: app.label });
      assert.ok(!JSON.stringify(event).includes(newSecret) && !JSON.stringify(event).includes(oldSecret as string));

      const publicApp = await create({ auth_method: 'none' });
      assertError(await api('POST', `/api/apps/${publicApp.app.id}/secret`), 409, 'app.public_client');
      assertError(await api('POST', '/api/apps/no-such-app/secret'), 404, 'app.not_found');
    });

    test('deactivate and activate: an inactive app cannot authenticate', async () => {
      const { app, client_secret: secret } = await create();
      const off = await api('POST', `/api/apps/${app.id}/deactivate`);
      assert.equal(off.status, 200, off.text);
      assert.equal(off.body.active, false);
      assert.deepEqual(await tokenError(app.client_id, secret as string), [401, 'invalid_client']);
      assert.equal((await auditFor('app.deactivate', app.id)).target?.name, app.label);

      const on = await api('POST', `/api/apps/${encodeURIComponent(app.label)}/activate`);
      assert.equal(on.status, 200);
      assert.equal(on.body.active, true);
      assert.deepEqual(await tokenError(app.client_id, secret as string), [400, 'invalid_grant']);
      assert.equal((await auditFor('app.activate', app.id)).target?.id, app.id);
      assertError(await api('POST', '/api/apps/no-such-app/activate'), 404, 'app.not_found');
    });

    test('icons: upload a PNG or SVG, serve it safely, remove it; wrong types and sizes are refused', async () => {
      const { app } = await create();
      const iconPath = `/api/apps/${app.id}/icon`;
      assertError(await api('GET', iconPath, undefined, reader), 404, 'app.no_icon');

      const png = await call(gh, 'PUT', iconPath, undefined, { key: manager, raw: { contentType: 'image/png', data: PNG } });
      assert.equal(png.status, 200, png.text);
      assert.equal(png.body.icon_url, `${gh.issuer}${iconPath}`);
      assert.ok(!('icon' in png.body));
      const served = await fetch(`${gh.issuer}${iconPath}`, { headers: { 'x-api-key': reader } });
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(Buffer.from(await served.arrayBuffer()).equals(PNG));
      const setEvent = await auditFor('app.set_icon', app.id);
      assert.deepEqual(setEvent.details, { media_type: 'image/png', bytes: PNG.length });
      assert.equal((await api('GET', `/api/apps/${app.id}`)).body.icon_url, `${gh.issuer}${iconPath}`);

      const svg = await call(gh, 'PUT', iconPath, undefined, { key: manager, raw: { contentType: 'image/svg+xml; charset=utf-8', data: SVG } });
      assert.equal(svg.status, 200, svg.text);
      const servedSvg = await fetch(`${gh.issuer}${iconPath}`, { headers: { 'x-api-key': reader } });
      assert.match(servedSvg.headers.get('content-type') ?? '', /^image\/svg\+xml/);
      assert.equal(servedSvg.headers.get('content-security-policy'), "default-src 'none'; style-src 'unsafe-inline'");
      assert.equal(servedSvg.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(await servedSvg.text(), SVG.toString());

      const gif = await call(gh, 'PUT', iconPath, undefined, { key: manager, raw: { contentType: 'image/gif', data: Buffer.from('GIF89a') } });
      assertError(gif, 415, 'request.unsupported_media_type');
      assertError(await api('PUT', iconPath, { mediaType: 'image/png', base64: PNG.toString('base64') }), 415, 'request.unsupported_media_type');
      const tooBig = Buffer.concat([PNG, Buffer.alloc(MAX_ICON_BYTES + 1 - PNG.length)]);
      assertError(await call(gh, 'PUT', iconPath, undefined, { key: manager, raw: { contentType: 'image/png', data: tooBig } }), 413, 'request.too_large');
      const justFits = Buffer.concat([PNG, Buffer.alloc(MAX_ICON_BYTES - PNG.length)]);
      assert.equal((await call(gh, 'PUT', iconPath, undefined, { key: manager, raw: { contentType: 'image/png', data: justFits } })).status, 200);
      assertError(await call(gh, 'PUT', iconPath, undefined, { key: manager, raw: { contentType: 'image/png', data: SVG } }), 400, 'app.invalid_icon');
      assertError(await call(gh, 'PUT', iconPath, undefined, { key: manager, raw: { contentType: 'image/svg+xml', data: PNG } }), 400, 'app.invalid_icon');
      assertError(await call(gh, 'PUT', '/api/apps/no-such-app/icon', undefined, { key: manager, raw: { contentType: 'image/png', data: PNG } }), 404, 'app.not_found');
      assertError(await call(gh, 'PUT', iconPath, undefined, { key: reader, raw: { contentType: 'image/png', data: PNG } }), 403, 'auth.forbidden');

      const removed = await api('DELETE', iconPath);
      assert.equal(removed.status, 204);
      assertError(await api('GET', iconPath), 404, 'app.no_icon');
      assertError(await api('DELETE', iconPath), 404, 'app.no_icon');
      assert.equal((await api('GET', `/api/apps/${app.id}`)).body.icon_url, null);
      assert.equal((await auditFor('app.remove_icon', app.id)).target?.id, app.id);
    });

    test('bind and unbind groups', async () => {
      const { app } = await create();
      const group = await gh.directory.groups.create(unique('Staff'));
      assert.deepEqual((await api('GET', `/api/apps/${app.id}/groups`, undefined, reader)).body, []);
      for (let i = 0; i < 2; i++) {
        const bound = await api('PUT', `/api/apps/${app.id}/groups/${group.id}`);
        assert.equal(bound.status, 204, bound.text);
      }
      assert.equal((await api('PUT', `/api/apps/${app.client_id}/groups/${encodeURIComponent(ALL_USERS_GROUP.name)}`)).status, 204);
      const groups = await api('GET', `/api/apps/${app.id}/groups`, undefined, reader);
      assert.deepEqual(
        groups.body.map((g: { name: string }) => g.name),
        [ALL_USERS_GROUP.name, group.name],
      );
      assert.deepEqual(groups.body[1], group);
      const apps = await api('GET', `/api/groups/${group.id}/apps`, undefined, reader);
      assert.deepEqual(
        apps.body.map((a: { id: string }) => a.id),
        [app.id],
      );
      const bindEvent = await auditFor('app.bind', app.id);
      assert.deepEqual(bindEvent.target, { type: 'app', id: app.id, name: app.label });

      const unbound = await api('DELETE', `/api/apps/${app.id}/groups/${encodeURIComponent(group.name)}`);
      assert.equal(unbound.status, 204);
      assertError(await api('DELETE', `/api/apps/${app.id}/groups/${group.id}`), 404, 'app.not_bound');
      assert.deepEqual(
        (await api('GET', `/api/apps/${app.id}/groups`)).body.map((g: { name: string }) => g.name),
        [ALL_USERS_GROUP.name],
      );
      assert.deepEqual((await auditFor('app.unbind', app.id)).details, { group: { id: group.id, name: group.name } });

      assertError(await api('PUT', `/api/apps/${app.id}/groups/no-such-group`), 404, 'group.not_found');
      assertError(await api('PUT', `/api/apps/no-such-app/groups/${group.id}`), 404, 'app.not_found');
      assertError(await api('GET', '/api/apps/no-such-app/groups'), 404, 'app.not_found');
    });

    test('delete an app: its bindings go with it', async () => {
      const { app } = await create();
      const group = await gh.directory.groups.create(unique('Doomed binding'));
      await gh.directory.apps.bind(app.id, group.id);
      const deleted = await api('DELETE', `/api/apps/${app.id}`);
      assert.equal(deleted.status, 204);
      assertError(await api('GET', `/api/apps/${app.id}`), 404, 'app.not_found');
      assertError(await api('DELETE', `/api/apps/${app.id}`), 404, 'app.not_found');
      assert.deepEqual((await api('GET', `/api/groups/${group.id}/apps`)).body, []);
      assert.deepEqual((await auditFor('app.delete', app.id)).target, { type: 'app', id: app.id, name: app.label });
    });

    test('paging: limit=1 visits every app exactly once; offset past the end; bounds on limit; search', async () => {
      const prefix = `Paged ${Date.now().toString(36)}`;
      for (const suffix of ['b', 'A', 'c']) await create({ label: `${prefix} ${suffix}` });
      const all = await api('GET', '/api/apps?limit=1000', undefined, reader);
      const total = all.body.total as number;
      assert.ok(total >= 3);
      assert.equal(all.body.data.length, total);
      const seen: string[] = [];
      for (let offset = 0; offset < total; offset++) {
        const page = await api('GET', `/api/apps?limit=1&offset=${offset}`, undefined, reader);
        assert.equal(page.body.total, total);
        assert.equal(page.body.data.length, 1);
        seen.push(page.body.data[0].id);
      }
      assert.equal(new Set(seen).size, total);
      assert.deepEqual(
        seen,
        all.body.data.map((a: { id: string }) => a.id),
      );

      const past = await api('GET', `/api/apps?offset=${total}`, undefined, reader);
      assert.deepEqual(past.body.data, []);
      assert.equal(past.body.total, total);
      for (const bad of ['limit=0', 'limit=1001', 'offset=-1']) assertError(await api('GET', `/api/apps?${bad}`, undefined, reader), 400, 'request.invalid');

      const searched = await api('GET', `/api/apps?search=${encodeURIComponent(prefix.toLowerCase())}`, undefined, reader);
      assert.equal(searched.body.total, 3);
      assert.deepEqual(
        searched.body.data.map((a: { label: string }) => a.label),
        [`${prefix} A`, `${prefix} b`, `${prefix} c`],
        'ordered by label, any case',
      );
    });

    test('permissions: a read-only role or key can read but not write; a manager can', async () => {
      const { app } = await create();
      const group = await gh.directory.groups.create(unique('Perm'));
      for (const key of [reader, readOnlyScope]) {
        assert.equal((await api('GET', '/api/apps', undefined, key)).status, 200);
        assert.equal((await api('GET', `/api/apps/${app.id}`, undefined, key)).status, 200);
        assert.equal((await api('GET', `/api/apps/${app.id}/groups`, undefined, key)).status, 200);
        const writes = [
          await api('POST', '/api/apps', { label: unique('Nope'), redirect_uris: ['https://x.example.com/cb'] }, key),
          await api('PATCH', `/api/apps/${app.id}`, { label: 'nope' }, key),
          await api('DELETE', `/api/apps/${app.id}`, undefined, key),
          await api('POST', `/api/apps/${app.id}/secret`, undefined, key),
          await api('POST', `/api/apps/${app.id}/deactivate`, undefined, key),
          await api('PUT', `/api/apps/${app.id}/groups/${group.id}`, undefined, key),
          await api('DELETE', `/api/apps/${app.id}/groups/${group.id}`, undefined, key),
          await api('DELETE', `/api/apps/${app.id}/icon`, undefined, key),
        ];
        for (const response of writes) assertError(response, 403, 'auth.forbidden');
      }
      assertError(await call(gh, 'GET', '/api/apps'), 401, 'auth.invalid_credentials');
      assertError(await call(gh, 'GET', `/api/apps/${app.id}/icon`), 401, 'auth.invalid_credentials');
      const unchanged = await gh.directory.apps.get(app.id);
      assert.equal(unchanged.label, app.label);
      assert.equal(unchanged.active, true);
      assert.equal((await api('PATCH', `/api/apps/${app.id}`, { label: unique('Managed') })).status, 200);
    });

    test('the OpenAPI document describes the app and group routes', async () => {
      const doc = await call(gh, 'GET', '/api/openapi.json');
      assert.equal(doc.status, 200);
      const paths = Object.keys(doc.body.paths);
      for (const path of [
        '/api/apps',
        '/api/apps/{id}',
        '/api/apps/{id}/icon',
        '/api/apps/{id}/secret',
        '/api/apps/{id}/activate',
        '/api/apps/{id}/groups/{groupId}',
        '/api/groups',
        '/api/groups/{id}/members/{userId}',
        '/api/groups/{id}/apps',
      ]) {
        assert.ok(paths.includes(path), `${path} is documented`);
      }
      assert.ok(doc.body.paths['/api/apps/{id}/icon'].put.requestBody.content['image/png']);
    });
  });
}
