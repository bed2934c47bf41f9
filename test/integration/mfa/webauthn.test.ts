/**
 * Security keys and passkeys (issue 12 §1) over real HTTP, with a software authenticator that
 * builds real WebAuthn answers (P-256 keys, "none" attestation, signed assertions) as a browser
 * would hand them over: registration through the self-service API, the second factor after a
 * password, and the passwordless sign-in, each with its refusals (wrong challenge, origin, RP ID,
 * another person's key, a removed key, a cloned key's counter, a suspended person).
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';
import { LOCKOUT_THRESHOLD } from '../../../src/directory/users.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';
import { browse, client, discover, startAuthorization } from '../../helpers/rp.ts';

const PASSWORD = 'correct-horse-battery-staple-7';
const REDIRECT = 'https://webauthn-app.example.test/callback';

const b64 = (bytes: Uint8Array) => isoBase64URL.fromBuffer(new Uint8Array(bytes));
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/**
 * A software authenticator: one P-256 credential. `synced` sets the backup flags (a multi-device
 * passkey); `counts` makes it keep a signature counter, as most security keys do.
 */
class SoftAuthenticator {
  readonly keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  readonly credentialId = randomBytes(16);
  counter = 0;
  userHandle: string | undefined;
  readonly options: { synced?: boolean; counts?: boolean };
  constructor(options: { synced?: boolean; counts?: boolean } = {}) {
    this.options = options;
  }

  get id(): string {
    return b64(this.credentialId);
  }

  private authenticatorData(rpId: string, userVerified: boolean, attested: boolean): Buffer {
    let flags = 0x01 | (userVerified ? 0x04 : 0) | (this.options.synced ? 0x08 | 0x10 : 0) | (attested ? 0x40 : 0);
    flags &= 0xff;
    if (this.options.counts) this.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    const parts = [sha256(rpId), Buffer.from([flags]), counter];
    if (attested) {
      const jwk = this.keys.publicKey.export({ format: 'jwk' });
      const cose = isoCBOR.encode(
        new Map<number, number | Uint8Array>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, isoBase64URL.toBuffer(jwk.x!)],
          [-3, isoBase64URL.toBuffer(jwk.y!)],
        ]),
      );
      const length = Buffer.alloc(2);
      length.writeUInt16BE(this.credentialId.length);
      parts.push(Buffer.alloc(16), length, this.credentialId, Buffer.from(cose));
    }
    return Buffer.concat(parts);
  }

  register(options: PublicKeyCredentialCreationOptionsJSON, at: { origin: string; rpId?: string; challenge?: string }): RegistrationResponseJSON {
    this.userHandle = options.user.id;
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: at.challenge ?? options.challenge, origin: at.origin, crossOrigin: false }));
    const authData = this.authenticatorData(at.rpId ?? options.rp.id ?? '', true, true);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: { clientDataJSON: b64(clientData), attestationObject: b64(attestationObject), transports: ['usb'] },
      clientExtensionResults: {},
    };
  }

  assert(options: PublicKeyCredentialRequestOptionsJSON, at: { origin: string; rpId?: string; challenge?: string; userVerified?: boolean }): AuthenticationResponseJSON {
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: at.challenge ?? options.challenge, origin: at.origin, crossOrigin: false }));
    const authData = this.authenticatorData(at.rpId ?? options.rpId ?? '', at.userVerified ?? true, false);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), this.keys.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: { clientDataJSON: b64(clientData), authenticatorData: b64(authData), signature: b64(signature), ...(this.userHandle ? { userHandle: this.userHandle } : {}) },
      clientExtensionResults: {},
    };
  }
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Security keys and passkeys (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let rp: client.Configuration;
    let origin: string;
    let rpId: string;
    let serial = 0;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      origin = new URL(gatehouse.issuer).origin;
      rpId = new URL(gatehouse.issuer).hostname;
      const everyone = await gatehouse.directory.groups.get('All Users');
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label: 'Key App', redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT });
    });
    after(() => gatehouse?.close());

    async function person() {
      const username = `webauthn${++serial}`;
      const user = await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      const { accessToken } = await portalSignIn(gatehouse, username, PASSWORD);
      const as = (method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: accessToken, bearer: true });
      return { user, username, as };
    }

    /** A person with `key` registered through the self-service API. */
    async function withKey(key = new SoftAuthenticator()) {
      const who = await person();
      const options = await who.as('POST', '/api/me/passkeys/options');
      assert.equal(options.status, 200, options.text);
      const added = await who.as('POST', '/api/me/passkeys', { name: 'My key', response: key.register(options.body, { origin }) });
      assert.equal(added.status, 201, added.text);
      return { ...who, key, passkey: added.body.passkey, recoveryCodes: added.body.recovery_codes as string[] | null };
    }

    /** The sign-in page an authorization request leads to (after the password when one is given). */
    async function signInPage(username?: string) {
      const start = await startAuthorization(rp, REDIRECT, 'openid');
      const browser = new Browser();
      const outcome = await browse(browser, start.url, REDIRECT, username ? { username, password: PASSWORD } : undefined);
      assert.ok(outcome.page, 'a page');
      return { start, browser, page: outcome.page };
    }

    /** The page's passkey form and its ceremony's options, fetched as the glue script does. */
    async function ceremony(browser: Browser, page: { url: string; html: string }, headers: Record<string, string> = { origin }) {
      const form = parseForms(page.html).find((f) => f.action.endsWith('/webauthn'));
      assert.ok(form, `a passkey form: ${page.html.slice(0, 400)}`);
      const csrf = form.fields.find((f) => f.name === 'csrf')?.value ?? '';
      const response = await browser.request(`${form.action}/options`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...headers }, body: JSON.stringify({ csrf }) });
      return { form, response, options: response.ok ? ((await response.json()) as PublicKeyCredentialRequestOptionsJSON) : undefined };
    }

    async function answer(browser: Browser, page: { url: string }, form: ReturnType<typeof parseForms>[number], assertion: AuthenticationResponseJSON) {
      const step = await browser.submit(page.url, form, { response: JSON.stringify(assertion) }, REDIRECT);
      if (!step.response) return { callbackUrl: new URL(step.url) };
      return { page: { url: step.url, status: step.response.status, html: await step.response.text() } };
    }

    async function idToken(start: Awaited<ReturnType<typeof startAuthorization>>, callbackUrl: URL) {
      const tokens = await client.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
      return tokens.claims();
    }

    test('register a key: options exclude existing keys, the key is listed, named, renamed, audited as the person; the first factor brings recovery codes', async () => {
      const { user, as, key, passkey, recoveryCodes } = await withKey();
      assert.equal(recoveryCodes?.length, 10, 'the first factor comes with ten recovery codes');
      assert.deepEqual(Object.keys(passkey).sort(), ['backed_up', 'created_at', 'device_type', 'id', 'last_used_at', 'name']);
      assert.equal(passkey.device_type, 'single_device');
      assert.equal(passkey.backed_up, false);

      const options = (await as('POST', '/api/me/passkeys/options')).body;
      assert.equal(options.rp.id, rpId);
      assert.equal(options.authenticatorSelection.residentKey, 'preferred');
      assert.equal(options.authenticatorSelection.userVerification, 'preferred');
      assert.deepEqual(
        options.excludeCredentials.map((c: { id: string }) => c.id),
        [key.id],
      );
      assert.notEqual(options.user.id, b64(Buffer.from(user.username)), 'the user handle is no name');

      const second = await as('POST', '/api/me/passkeys', { name: 'Synced phone', response: new SoftAuthenticator({ synced: true }).register(options, { origin }) });
      assert.equal(second.status, 201, second.text);
      assert.equal(second.body.recovery_codes, null, 'recovery codes only with the first factor');
      assert.equal(second.body.passkey.device_type, 'multi_device');
      assert.equal(second.body.passkey.backed_up, true);

      const renamed = await as('PATCH', `/api/me/passkeys/${passkey.id}`, { name: '  YubiKey 5  ' });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.body.name, 'YubiKey 5');
      assert.equal((await as('PATCH', `/api/me/passkeys/${passkey.id}`, { name: 'bad\u0007name' })).status, 400);

      const factors = (await as('GET', '/api/me/factors')).body;
      assert.deepEqual(
        factors.passkeys.map((p: { name: string }) => p.name),
        ['YubiKey 5', 'Synced phone'],
      );
      assert.ok(!JSON.stringify(factors).includes(key.id), 'no credential id or key material in the API');

      const events = (await gatehouse.directory.audit.list({ action: 'self.factor.passkey_register', limit: 10, offset: 0 })).events.filter((e) => e.target?.id === user.id);
      assert.equal(events.length, 2);
      assert.equal(events[0]?.actor.type, 'user');
      assert.equal(events[0]?.actor.id, user.id);
    });

    test('registration is refused for a wrong challenge, origin or RP ID, and its challenge is used once', async () => {
      const { as } = await person();
      const key = new SoftAuthenticator();
      const options = (await as('POST', '/api/me/passkeys/options')).body;
      const wrongOrigin = await as('POST', '/api/me/passkeys', { name: 'k', response: key.register(options, { origin: 'https://evil.example' }) });
      assert.equal(wrongOrigin.status, 400);
      const afterFailure = await as('POST', '/api/me/passkeys', { name: 'k', response: key.register(options, { origin }) });
      assert.equal(afterFailure.status, 409, 'the failed attempt used up the challenge');
      assert.equal(afterFailure.body.code, 'passkey.no_challenge');

      for (const [label, at] of [
        ['origin', { origin: 'https://evil.example' }],
        ['RP ID', { origin, rpId: 'evil.example' }],
        ['challenge', { origin, challenge: b64(randomBytes(32)) }],
      ] as const) {
        const fresh = (await as('POST', '/api/me/passkeys/options')).body;
        const refused = await as('POST', '/api/me/passkeys', { name: 'k', response: key.register(fresh, at) });
        assert.equal(refused.status, 400, `${label}: ${refused.text}`);
        assert.equal(refused.body.code, 'passkey.registration_invalid');
      }
      assert.deepEqual((await as('GET', '/api/me/factors')).body.passkeys, []);

      const fresh = (await as('POST', '/api/me/passkeys/options')).body;
      const response = key.register(fresh, { origin });
      assert.equal((await as('POST', '/api/me/passkeys', { name: 'k', response })).status, 201);
      const replay = await as('POST', '/api/me/passkeys', { name: 'k', response });
      assert.equal(replay.status, 409);
      assert.equal(replay.body.code, 'passkey.no_challenge');
    });

    test('second factor: after the password, the key signs in with amr pwd, hwk, mfa; the page loads only the passkey scripts', async () => {
      const { username, key } = await withKey(new SoftAuthenticator({ counts: true }));
      const { start, browser, page } = await signInPage(username);
      assert.match(page.html, /Two-step verification/);
      assert.match(page.html, /Use your security key or passkey/);
      assert.match(page.html, /Recovery code/, 'a person without an authenticator app may type a recovery code');
      const passkeyAction = parseForms(page.html).find((f) => f.action.endsWith('/webauthn'))?.action ?? '';
      const pageResponse = await browser.request(passkeyAction.replace(/\/webauthn$/, ''));
      assert.equal(pageResponse.status, 200);
      const csp = pageResponse.headers.get('content-security-policy') ?? '';
      assert.match(csp, new RegExp(`script-src ${origin}/webauthn/simplewebauthn-browser\\.js ${origin}/webauthn/sign-in\\.js;`));
      assert.doesNotMatch(csp, /'self'|unsafe/);

      const { form, options } = await ceremony(browser, page);
      assert.ok(options);
      assert.deepEqual(
        options.allowCredentials?.map((c) => c.id),
        [key.id],
      );
      const done = await answer(browser, page, form, key.assert(options, { origin }));
      assert.ok(done.callbackUrl, `signed in: ${done.page?.html.slice(0, 300)}`);
      assert.deepEqual((await idToken(start, done.callbackUrl))?.amr, ['pwd', 'hwk', 'mfa']);
      const [event] = (await gatehouse.directory.audit.list({ action: 'user.sign_in', limit: 1, offset: 0 })).events;
      assert.equal(event?.details.method, 'password+webauthn');
    });

    test('second factor: another person’s key, a wrong origin or RP ID, a replayed answer and a cloned key’s counter are refused', async () => {
      const { user, username, key } = await withKey(new SoftAuthenticator({ counts: true }));
      const other = await withKey();
      const { browser, page } = await signInPage(username);

      let round = await ceremony(browser, page);
      let refused = await answer(browser, page, round.form, other.key.assert(round.options!, { origin }));
      assert.ok(refused.page, 'another person’s key');
      assert.match(refused.page.html, /could not be verified/);

      for (const at of [{ origin: 'https://evil.example' }, { origin, rpId: 'evil.example' }, { origin, challenge: b64(randomBytes(32)) }]) {
        round = await ceremony(browser, page);
        refused = await answer(browser, page, round.form, key.assert(round.options!, at));
        assert.ok(refused.page, JSON.stringify(at));
      }

      // An answer to an earlier challenge (replaced by a newer one) is refused.
      round = await ceremony(browser, page);
      const earlier = key.assert(round.options!, { origin });
      round = await ceremony(browser, page);
      refused = await answer(browser, page, round.form, earlier);
      assert.ok(refused.page, 'an answer to an earlier challenge');

      // A clone: the original key already signed with a higher counter than this copy's.
      await gatehouse.runtime.storage.db.updateTable('webauthn_credentials').set({ counter: key.counter + 100 }).where('credential_id', '=', key.id).execute();
      round = await ceremony(browser, page);
      refused = await answer(browser, page, round.form, key.assert(round.options!, { origin }));
      assert.ok(refused.page, 'a counter that went back is refused');

      const failures = (await gatehouse.directory.audit.list({ action: 'user.sign_in', limit: 20, offset: 0 })).events.filter((e) => e.actor.id === user.id && e.outcome === 'failure');
      assert.ok(failures.some((e) => e.details.reason === 'webauthn_other_person'));
      assert.ok(failures.some((e) => e.details.reason === 'webauthn_counter'));
      const row = await gatehouse.runtime.storage.db.selectFrom('users').select('failed_logins').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.ok(row.failed_logins >= 6, `wrong keys count toward the lockout (${row.failed_logins})`);
    });

    test('second factor: wrong answers lock the account like wrong codes', async () => {
      const { user, username, key } = await withKey();
      const { browser, page } = await signInPage(username);
      for (let i = 0; i < LOCKOUT_THRESHOLD; i++) {
        const round = await ceremony(browser, page);
        await answer(browser, page, round.form, key.assert(round.options!, { origin: 'https://evil.example' }));
      }
      const round = await ceremony(browser, page);
      const refused = await answer(browser, page, round.form, key.assert(round.options!, { origin }));
      assert.ok(refused.page, 'the right key on a locked account is refused');
      const row = await gatehouse.runtime.storage.db.selectFrom('users').select('account_locked').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.account_locked, 1);
    });

    test('passwordless: a passkey alone signs in (amr hwk or swk, user, mfa) with user verification required', async () => {
      const { key } = await withKey();
      const synced = await withKey(new SoftAuthenticator({ synced: true }));
      for (const [who, amr] of [
        [key, ['hwk', 'user', 'mfa']],
        [synced.key, ['swk', 'user', 'mfa']],
      ] as const) {
        const { start, browser, page } = await signInPage();
        assert.match(page.html, /Sign in with a passkey/);
        assert.match(page.html, /autocomplete="username webauthn"/);
        const { form, options } = await ceremony(browser, page);
        assert.equal(options?.userVerification, 'required');
        assert.deepEqual(options?.allowCredentials ?? [], [], 'discoverable: no list of keys, nothing about any person');
        const done = await answer(browser, page, form, who.assert(options!, { origin }));
        assert.ok(done.callbackUrl, done.page?.html.slice(0, 300) ?? '');
        assert.deepEqual((await idToken(start, done.callbackUrl))?.amr, amr);
      }

      // Without user verification a passkey is not enough on its own.
      const { browser, page } = await signInPage();
      const { form, options } = await ceremony(browser, page);
      const refused = await answer(browser, page, form, key.assert(options!, { origin, userVerified: false }));
      assert.ok(refused.page);
      assert.match(refused.page.html, /could not be used to sign in/);
    });

    test('passwordless: a suspended person, a removed key and an unknown key are refused alike; options from another site are refused', async () => {
      const suspended = await withKey();
      await gatehouse.directory.users.suspend(suspended.user.id);
      const removed = await withKey();
      const proof = (await removed.as('POST', '/api/me/passkeys/verification-options')).body;
      const deleted = await removed.as('DELETE', `/api/me/passkeys/${removed.passkey.id}`, { response: removed.key.assert(proof, { origin }) });
      assert.equal(deleted.status, 204, deleted.text);

      const messages = new Set<string>();
      for (const key of [suspended.key, removed.key, new SoftAuthenticator()]) {
        const { browser, page } = await signInPage();
        const { form, options } = await ceremony(browser, page);
        const refused = await answer(browser, page, form, key.assert(options!, { origin }));
        assert.ok(refused.page);
        messages.add(refused.page.html.match(/role="alert">([^<]*)</)?.[1] ?? '');
      }
      assert.equal(messages.size, 1, `one message for all: ${[...messages]}`);

      const { browser, page } = await signInPage();
      const crossSite = await ceremony(browser, page, { origin: 'https://evil.example' });
      assert.equal(crossSite.response.status, 403);
    });

    test('removing a key needs proof (a code or a key); administrators see keys and their reset removes them', async () => {
      const { user, as, key, passkey, recoveryCodes } = await withKey();
      const bare = await as('DELETE', `/api/me/passkeys/${passkey.id}`, {});
      assert.equal(bare.status, 400);
      assert.equal(bare.body.code, 'factor.proof_required');
      const wrong = await as('DELETE', `/api/me/passkeys/${passkey.id}`, { code: '000000' });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.code, 'factor.proof_wrong');
      const another = await withKey();
      const proofOptions = (await another.as('POST', '/api/me/passkeys/verification-options')).body;
      const foreign = await another.as('DELETE', `/api/me/passkeys/${passkey.id}`, { response: another.key.assert(proofOptions, { origin }) });
      assert.equal(foreign.status, 404, 'nobody removes another person’s key');

      const admin = await adminKey(gatehouse, 'help_desk');
      const seen = await call(gatehouse, 'GET', `/api/users/${user.id}/factors`, undefined, { key: admin.key });
      assert.equal(seen.status, 200, seen.text);
      assert.equal(seen.body.passkeys.length, 1);
      assert.ok(!seen.text.includes(key.id));

      // A recovery code is proof too.
      const second = (await as('POST', '/api/me/passkeys/options')).body;
      const spare = new SoftAuthenticator();
      assert.equal((await as('POST', '/api/me/passkeys', { name: 'Spare', response: spare.register(second, { origin }) })).status, 201);
      assert.equal((await as('DELETE', `/api/me/passkeys/${passkey.id}`, { code: recoveryCodes![0] })).status, 204);
      assert.equal((await as('GET', '/api/me/factors')).body.passkeys.length, 1);

      assert.equal((await call(gatehouse, 'DELETE', `/api/users/${user.id}/factors`, undefined, { key: admin.key })).status, 204);
      assert.deepEqual((await as('GET', '/api/me/factors')).body.passkeys, []);
      assert.equal(await gatehouse.runtime.factors.hasSecondFactor(user.id), false);
    });

    test('the passkey scripts are served from the issuer; a page without JavaScript still signs in with the password', async () => {
      for (const path of ['/webauthn/simplewebauthn-browser.js', '/webauthn/sign-in.js']) {
        const response = await fetch(`${gatehouse.issuer}${path}`);
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /javascript/);
      }
      const { username } = await person();
      const { page } = await signInPage();
      assert.match(page.html, /<div id="passkey" hidden>/, 'the passkey button stays hidden without JavaScript');
      const start = await startAuthorization(rp, REDIRECT, 'openid');
      const outcome = await browse(new Browser(), start.url, REDIRECT, { username, password: PASSWORD });
      assert.ok(outcome.callbackUrl);
    });
  });
}
