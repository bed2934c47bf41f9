/**
 * The Entra-shaped test provider (test/helpers/entra.ts) seen by openid-client v6, the library
 * Gatehouse's sign-in leg uses: discovery per tenant and for `common`, the claims Entra sends, and
 * every knob the federation negatives rely on.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { type EntraApp, type EntraPerson, type TestEntra, startEntra } from '../../helpers/entra.ts';

const REDIRECT_URI = 'http://127.0.0.1:9/oauth/callback';

/** The error's message and its causes' messages, which is where oauth4webapi says what failed. */
function messages(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) parts.push(current.message);
  return parts.join(' <- ');
}

async function rejectsWith(promise: Promise<unknown>, expected: RegExp) {
  await assert.rejects(promise, (error) => {
    assert.match(messages(error), expected);
    return true;
  });
}

const discoverAt = (url: string, app: EntraApp) =>
  client.discovery(new URL(url), app.clientId, { redirect_uris: [REDIRECT_URI] }, client.ClientSecretPost(app.clientSecret), {
    execute: [client.allowInsecureRequests],
  });

/** The whole code flow with PKCE, state and nonce; `loginHint` picks the person. */
async function signIn(config: client.Configuration, options: { loginHint?: string; extra?: Record<string, string> } = {}) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...(options.loginHint ? { login_hint: options.loginHint } : {}),
    ...options.extra,
  });
  const step = await new Browser().follow(url.href, REDIRECT_URI);
  assert.equal(step.response, undefined, `the authorization endpoint stopped at a page: ${await step.response?.text()}`);
  const callbackUrl = new URL(step.url);
  const grant = () => client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { callbackUrl, grant };
}

describe('the Entra-shaped test provider', () => {
  let entra: TestEntra;
  let app: EntraApp;
  let otherApp: EntraApp;
  let contoso: string;
  let fabrikam: string;
  let alex: EntraPerson;
  let noEmail: EntraPerson;
  let fabrikamPerson: EntraPerson;

  before(async () => {
    entra = await startEntra();
    contoso = entra.addTenant(undefined, { domains: ['contoso.example'] });
    fabrikam = entra.addTenant();
    app = entra.registerApp({ redirectUris: [REDIRECT_URI] });
    otherApp = entra.registerApp({ redirectUris: [REDIRECT_URI] });
    alex = entra.addPerson({ tenant: contoso, username: 'alex@contoso.example', name: 'Alex Wilber', email: 'alex@contoso.example', xms_edov: true, amr: ['pwd', 'mfa'] });
    noEmail = entra.addPerson({ tenant: contoso, username: 'megan@contoso.example', name: 'Megan Bowen' });
    fabrikamPerson = entra.addPerson({ tenant: fabrikam, username: 'pat@fabrikam.example', name: 'Pat', email: 'alex@contoso.example', xms_edov: false });
  });
  afterEach(() => entra.reset());
  after(() => entra?.close());

  test('a tenant is discovered at <origin>/<tid>/v2.0 with Microsoft-shaped endpoints', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, `${entra.origin}/${contoso}/v2.0`);
    assert.equal(metadata.authorization_endpoint, `${entra.origin}/${contoso}/oauth2/v2.0/authorize`);
    assert.equal(metadata.token_endpoint, `${entra.origin}/${contoso}/oauth2/v2.0/token`);
    assert.equal(metadata.jwks_uri, `${entra.origin}/${contoso}/discovery/v2.0/keys`);
    // What Gatehouse derives from the pasted URL: <url>/v2.0/.well-known/openid-configuration.
    const document = (await (await fetch(`${entra.tenantUrl(contoso)}/v2.0/.well-known/openid-configuration`)).json()) as { issuer: string };
    assert.equal(document.issuer, metadata.issuer);
    assert.equal((await fetch(`${entra.origin}/${crypto.randomUUID()}/v2.0/.well-known/openid-configuration`)).status, 400, 'an unknown tenant');
  });

  test('a verified domain works in place of the tenant GUID, and the issuer is the GUID one', async () => {
    const document = (await (await fetch(`${entra.tenantUrl('contoso.example')}/v2.0/.well-known/openid-configuration`)).json()) as { issuer: string };
    assert.equal(document.issuer, `${entra.origin}/${contoso}/v2.0`);
    assert.equal(entra.issuerFor('contoso.example'), document.issuer);
  });

  test('the ID token has the claims Entra sends: tid, oid, pairwise sub, preferred_username, name, email + xms_edov, ver; never email_verified', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    const tokens = await (await signIn(config, { loginHint: 'alex@contoso.example' })).grant();
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.iss, entra.issuerFor(contoso));
    assert.equal(claims.aud, app.clientId);
    assert.equal(claims.tid, contoso);
    assert.equal(claims.oid, alex.oid);
    assert.equal(claims.sub, entra.subFor(alex, app.clientId));
    assert.notEqual(claims.sub, alex.oid);
    assert.equal(claims.preferred_username, 'alex@contoso.example');
    assert.equal(claims.name, 'Alex Wilber');
    assert.equal(claims.email, 'alex@contoso.example');
    assert.equal(claims.xms_edov, true);
    assert.equal(claims.ver, '2.0');
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
    assert.equal('email_verified' in claims, false);

    // Another app gets another sub for the same person; oid and tid stay.
    const other = await discoverAt(entra.issuerFor(contoso), otherApp);
    const otherClaims = (await (await signIn(other, { loginHint: 'alex@contoso.example' })).grant()).claims();
    assert.equal(otherClaims?.oid, alex.oid);
    assert.notEqual(otherClaims?.sub, claims.sub);
  });

  test('email and xms_edov are absent when the person has no email; signInAs overrides the login_hint', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    entra.signInAs(noEmail);
    const claims = (await (await signIn(config, { loginHint: 'alex@contoso.example' })).grant()).claims();
    assert.equal(claims?.oid, noEmail.oid);
    assert.equal('email' in (claims ?? {}), false);
    assert.equal('xms_edov' in (claims ?? {}), false);
    assert.equal('amr' in (claims ?? {}), false);
  });

  test('a tenant endpoint signs in only its own people', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    const { callbackUrl } = await signIn(config, { loginHint: 'pat@fabrikam.example' });
    assert.equal(callbackUrl.searchParams.get('error'), 'access_denied');
  });

  for (const scope of ['common', 'organizations']) {
    test(`${scope}: discovery has the literal {tenantid} issuer template; tokens carry the person's tenant issuer`, async () => {
      const wellKnown = `${entra.tenantUrl(scope)}/v2.0/.well-known/openid-configuration`;
      // Given the document's URL, openid-client does not compare the issuer with it.
      const config = await discoverAt(wellKnown, app);
      const metadata = config.serverMetadata();
      assert.equal(metadata.issuer, `${entra.origin}/{tenantid}/v2.0`);
      assert.equal(metadata.authorization_endpoint, `${entra.origin}/${scope}/oauth2/v2.0/authorize`);
      assert.equal(metadata.token_endpoint, `${entra.origin}/${scope}/oauth2/v2.0/token`);

      // The person's tenant is known here, so the template can be resolved before validation.
      const resolved = new client.Configuration(
        JSON.parse(JSON.stringify({ ...metadata, issuer: metadata.issuer.replace('{tenantid}', fabrikam) })) as client.ServerMetadata,
        app.clientId,
        { redirect_uris: [REDIRECT_URI] },
        client.ClientSecretPost(app.clientSecret),
      );
      client.allowInsecureRequests(resolved);
      const claims = (await (await signIn(resolved, { loginHint: 'pat@fabrikam.example' })).grant()).claims();
      assert.equal(claims?.iss, entra.issuerFor(fabrikam));
      assert.equal(claims?.tid, fabrikam);
      assert.equal(claims?.oid, fabrikamPerson.oid);
      assert.equal(claims?.xms_edov, false);

      // The unresolved template never matches a token's issuer.
      client.allowInsecureRequests(config);
      await rejectsWith((await signIn(config, { loginHint: 'pat@fabrikam.example' })).grant(), /unexpected JWT "iss"/);
    });
  }

  const defects = [
    ['wrong_nonce', /unexpected ID Token "nonce" claim value/],
    ['wrong_aud', /unexpected JWT "aud"/],
    ['wrong_iss', /unexpected JWT "iss"/],
    ['expired', /unexpected JWT "exp"/],
    ['bad_signature', /signature verification failed/],
    ['unknown_key', /no applicable keys found/],
  ] as const;
  for (const [defect, message] of defects) {
    test(`sabotage: an ID token with ${defect} is refused by openid-client`, async () => {
      const config = await discoverAt(entra.issuerFor(contoso), app);
      // openid-client checks the ID token's signature only when asked to (OIDC Core §3.1.3.7 lets a
      // TLS client skip it); the issue asks for it, so the sign-in leg must ask too.
      client.enableNonRepudiationChecks(config);
      entra.sabotage({ idToken: defect });
      await rejectsWith((await signIn(config, { loginHint: 'alex@contoso.example' })).grant(), message);
      entra.reset();
      await (await signIn(config, { loginHint: 'alex@contoso.example' })).grant();
    });
  }

  test('sabotage: error=access_denied at the authorization endpoint', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    entra.sabotage({ authorizationError: 'access_denied' });
    const { callbackUrl } = await signIn(config, { loginHint: 'alex@contoso.example' });
    assert.equal(callbackUrl.searchParams.get('error'), 'access_denied');
    assert.ok(callbackUrl.searchParams.get('state'));
  });

  test('sabotage: a slow token endpoint answers late, a dead one drops the connection', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    entra.sabotage({ tokenDelayMs: 600 });
    const slow = await signIn(config, { loginHint: 'alex@contoso.example' });
    const started = Date.now();
    await slow.grant();
    assert.ok(Date.now() - started >= 550);
    entra.reset();

    entra.sabotage({ tokenEndpointDown: true });
    const before = entra.counts.token;
    await assert.rejects((await signIn(config, { loginHint: 'alex@contoso.example' })).grant());
    assert.equal(entra.counts.token, before + 1);
  });

  test('response_mode=form_post answers with a self-submitting form to the redirect URI, without iss (as Entra)', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    const codeVerifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile',
      state: 'the-state',
      nonce: 'the-nonce',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      response_mode: 'form_post',
      login_hint: 'alex@contoso.example',
    });
    const step = await new Browser().follow(url.href, REDIRECT_URI);
    assert.equal(step.response?.status, 200);
    const [form] = parseForms((await step.response?.text()) ?? '');
    assert.equal(form?.action, REDIRECT_URI);
    assert.equal(form?.method, 'post');
    assert.deepEqual(form?.fields.map((field) => field.name).sort(), ['code', 'state']);
    assert.equal(form?.fields.find((field) => field.name === 'state')?.value, 'the-state');
  });

  test('a rotated signing key is published in the JWKS and signs the ID tokens from then on', async () => {
    const local = await startEntra();
    try {
      const tenant = local.addTenant();
      const localApp = local.registerApp({ redirectUris: [REDIRECT_URI] });
      local.addPerson({ tenant, username: 'kim@rotate.example', name: 'Kim' });
      const config = await discoverAt(local.issuerFor(tenant), localApp);
      client.enableNonRepudiationChecks(config);
      const before = (await (await signIn(config, { loginHint: 'kim@rotate.example' })).grant()).id_token ?? '';
      const kid = await local.rotateSigningKey();
      const jwks = (await (await fetch(`${local.origin}/${tenant}/discovery/v2.0/keys`)).json()) as { keys: { kid: string }[] };
      assert.deepEqual(jwks.keys.map((key) => key.kid).sort(), ['entra-test-key', kid].sort());
      // openid-client refetches a cached JWKS on an unknown kid only once it is 60 s old, so a
      // fresh configuration verifies the new key's token here.
      const fresh = await discoverAt(local.issuerFor(tenant), localApp);
      client.enableNonRepudiationChecks(fresh);
      const after = (await (await signIn(fresh, { loginHint: 'kim@rotate.example' })).grant()).id_token ?? '';
      assert.equal(JSON.parse(Buffer.from(before.split('.')[0] ?? '', 'base64url').toString()).kid, 'entra-test-key');
      assert.equal(JSON.parse(Buffer.from(after.split('.')[0] ?? '', 'base64url').toString()).kid, kid);
    } finally {
      await local.close();
    }
  });

  test('counts tell how often each endpoint was used', async () => {
    const config = await discoverAt(entra.issuerFor(contoso), app);
    entra.resetCounts();
    await (await signIn(config, { loginHint: 'alex@contoso.example' })).grant();
    assert.equal(entra.counts.authorization, 1);
    assert.equal(entra.counts.token, 1);
  });
});
