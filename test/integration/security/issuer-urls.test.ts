/**
 * Every URL Gatehouse publishes or redirects to comes from the configured issuer, never from the
 * request's Host or X-Forwarded-Host (with or without a trusted proxy): the discovery document, the
 * sign-in pages' forms and every redirect of the flow. An invalid Host is never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type ConfiguredServer, raw, startConfigured } from '../http/raw.ts';
import { PASSWORD, REDIRECT_URI, pkcePair } from './support.ts';

const FORGED = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
const INVALID_HOSTS = ['127.0.0.1:99999', 'evil.example:notaport', '[::1', 'a b', '', 'x'.repeat(300), 'evil.example/../x', '%00'];

function assertFromIssuer(issuer: string, url: string | undefined, what: string) {
  assert.ok(url, `${what}: a URL`);
  assert.ok(url === issuer || url.startsWith(`${issuer}/`), `${what} derives from the issuer ${issuer}: ${url}`);
}

const pathOf = (url: string) => {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
};

for (const { kind, skip } of DATABASE_KINDS) {
  for (const trustProxy of [false, 1] as const) {
    describe(`URLs come from the issuer (${kind}, trust proxy ${trustProxy})`, { skip }, () => {
      let server: ConfiguredServer;
      let clientId: string;

      before(async () => {
        server = await startConfigured(kind, { trustProxy });
        const { users, groups, apps } = server.runtime.directory;
        await users.create({ username: 'olga', email: 'olga@example.com', password: PASSWORD });
        await groups.create('staff');
        await groups.addMember('staff', 'olga');
        const { app } = await apps.create({ label: 'Hosted', redirect_uris: [REDIRECT_URI], auth_method: 'client_secret_basic', scopes: ['email'] });
        await apps.bind(app.id, 'staff');
        clientId = app.client_id;
      });
      after(() => server?.close());

      test('the discovery document ignores a forged Host and X-Forwarded-Host', async () => {
        const response = await raw(server.url, '/.well-known/openid-configuration', { headers: FORGED });
        assert.equal(response.status, 200, response.text);
        const discovery = JSON.parse(response.text) as Record<string, unknown>;
        assert.equal(discovery.issuer, server.issuer);
        const urls = Object.entries(discovery).filter(([name]) => name.endsWith('_endpoint') || name.endsWith('_uri'));
        assert.ok(urls.length >= 7, `endpoints listed: ${urls.map(([name]) => name).join(', ')}`);
        for (const [name, value] of urls) assertFromIssuer(server.issuer, String(value), name);
        assert.doesNotMatch(response.text, /evil\.example/);
      });

      test('sign-in and sign-out with a forged Host: every form action and redirect is the issuer', async () => {
        const jar = new Map<string, string>();
        const { challenge } = await pkcePair();
        const query = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 's1', nonce: 'n1', code_challenge: challenge, code_challenge_method: 'S256' });
        const authorization = await raw(server.url, `/oauth2/auth?${query}`, { headers: FORGED, jar });
        assert.equal(authorization.status, 303, authorization.text);
        assertFromIssuer(server.issuer, authorization.location, 'authorization -> interaction redirect');

        const signInPage = await raw(server.url, pathOf(authorization.location ?? ''), { headers: FORGED, jar });
        assert.equal(signInPage.status, 200, signInPage.text);
        const forms = parseForms(signInPage.text);
        assert.ok(forms.length > 0);
        for (const form of forms) assertFromIssuer(server.issuer, form.action, 'sign-in form action');
        const form = forms[0];
        assert.ok(form);
        const fields = Object.fromEntries(form.fields.map((field) => [field.name, field.value]));
        const login = await raw(server.url, pathOf(form.action), {
          method: 'POST',
          headers: FORGED,
          jar,
          body: String(new URLSearchParams({ ...fields, username: 'olga', password: PASSWORD })),
        });
        assert.equal(login.status, 303, login.text);
        assertFromIssuer(server.issuer, login.location, 'interaction -> resume redirect');
        const resume = await raw(server.url, pathOf(login.location ?? ''), { headers: FORGED, jar });
        assert.equal(resume.status, 303, resume.text);
        assert.ok(resume.location?.startsWith(`${REDIRECT_URI}?`), `back to the app: ${resume.location}`);
        assert.ok(jar.has('_session'));

        const logout = await raw(server.url, '/oauth2/sessions/logout', { headers: FORGED, jar });
        assert.equal(logout.status, 200, logout.text);
        const [logoutForm] = parseForms(logout.text);
        assert.ok(logoutForm);
        assertFromIssuer(server.issuer, logoutForm.action, 'logout form action');
        assert.doesNotMatch(logout.text, /evil\.example/);
        const confirmFields = Object.fromEntries(logoutForm.fields.map((field) => [field.name, field.value]));
        const confirm = await raw(server.url, pathOf(logoutForm.action), { method: 'POST', headers: FORGED, jar, body: String(new URLSearchParams({ ...confirmFields, logout: 'yes' })) });
        assert.equal(confirm.status, 303, confirm.text);
        assertFromIssuer(server.issuer, confirm.location, 'logout -> signed-out redirect');
      });

      test('an invalid Host is never a server error', async () => {
        const paths = ['/.well-known/openid-configuration', '/.well-known/jwks.json', '/oauth2/sessions/logout', `/oauth2/auth?client_id=${clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`, '/interaction/nope', '/', '/healthz', '/api/users', '/admin/', '/admin'];
        for (const host of INVALID_HOSTS) {
          for (const path of paths) {
            const response = await raw(server.url, path, { headers: { host } });
            assert.ok(response.status < 500, `Host ${JSON.stringify(host.slice(0, 40))} on ${path}: ${response.status} ${response.text.slice(0, 200)}`);
            if (response.location && /^https?:/.test(response.location)) assertFromIssuer(server.issuer, response.location, `redirect for Host ${host.slice(0, 40)} on ${path}`);
          }
        }
      });
    });
  }
}
