/**
 * Sign-in limits hold under guesses sent all at once, and one person's failures do not shut others
 * out. Limits (src/http/routes/interactions.ts, README "Security notes"): 20 failed sign-ins per
 * (address, typed username) and 100 per address, per 5 minutes; an account locks after 10
 * consecutive failures. Each limit reserves its attempt before the password is checked, so N
 * concurrent guesses past the limit are refused, not all verified. The limiter lives in the server
 * process, so each test starts a server of its own (from 127.0.0.1, like every test here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS, type DatabaseKind } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import { GENERIC_FAILURE, PASSWORD, REDIRECT_URI, type Response2, type TestApp, assertNoInternals, createApp, openSignInPage, pageAlert, postForm, shutdown, startWithStaff } from './support.ts';

const PER_ACCOUNT_LIMIT = 20;
const PER_ADDRESS_LIMIT = 100;
const LOCKOUT_THRESHOLD = 10;
const TOGETHER = 16;

type Page = Awaited<ReturnType<typeof openSignInPage>>;

const attempt = (page: Page, username: string, password: string): Promise<Response2> => postForm(page.browser, page.action, { csrf: page.csrf, username, password });

/** A failed sign-in as it must look: the form again, the one generic message. */
function assertGenericFailure(response: Response2, label: string): void {
  assert.equal(response.status, 200, `${label}: ${response.status} ${response.text.slice(0, 200)}`);
  assert.equal(response.headers.get('location'), null, `${label}: no redirect`);
  assert.equal(pageAlert(response.text), GENERIC_FAILURE, label);
  assert.doesNotMatch(response.text, /locked/i);
  assertNoInternals(response.text);
}

function assertLimited(response: Response2, label: string): void {
  assert.equal(response.status, 429, `${label}: ${response.status}`);
  assert.equal(response.headers.get('location'), null);
  assert.match(pageAlert(response.text) ?? '', /Too many sign-in attempts/, label);
}

/** The failed sign-in events recorded so far (every verified or refused attempt past the limiter writes one). */
async function failedSignIns(gatehouse: TestGatehouse) {
  const { events } = await gatehouse.directory.audit.list({ action: 'user.sign_in', limit: 1000 });
  return events.filter((event) => event.outcome === 'failure');
}

function withServer(kind: DatabaseKind, users: string[], body: (context: { gatehouse: () => TestGatehouse; app: () => TestApp }) => void) {
  let gatehouse: TestGatehouse;
  let app: TestApp;
  before(async () => {
    gatehouse = await startWithStaff(kind, users[0] ?? 'nobody');
    for (const username of users.slice(1)) {
      await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD });
      await gatehouse.directory.groups.addMember('staff', username);
    }
    app = await createApp(gatehouse, { label: 'Raced', group: 'staff' });
  });
  after(() => shutdown(gatehouse));
  body({ gatehouse: () => gatehouse, app: () => app });
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`sign-in limits under concurrent guesses (${kind})`, { skip }, () => {
    describe('the per-account limit of one address', () => {
      withServer(kind, ['gina'], ({ gatehouse, app }) => {
        test(`after ${PER_ACCOUNT_LIMIT - 1} failures, ${TOGETHER} guesses sent together: exactly one more is checked`, async () => {
          const page = await openSignInPage(app());
          // An unknown username, so that no lockout interferes: this is about the limiter.
          for (let i = 1; i < PER_ACCOUNT_LIMIT; i++) assertGenericFailure(await attempt(page, 'guess', `guess-password-${i}`), `attempt ${i}`);
          const responses = await Promise.all(Array.from({ length: TOGETHER }, (_, i) => attempt(page, 'guess', `together-${i}`)));
          const checked = responses.filter((response) => response.status === 200);
          const limited = responses.filter((response) => response.status === 429);
          assert.equal(checked.length, 1, `one of the ${TOGETHER} is checked: ${responses.map((r) => r.status).join(' ')}`);
          assert.equal(limited.length, TOGETHER - 1);
          for (const response of checked) assertGenericFailure(response, 'the one checked');
          for (const response of limited) assertLimited(response, 'the others');
          assert.equal((await failedSignIns(gatehouse())).length, PER_ACCOUNT_LIMIT, 'exactly the limit was checked');
        });
      });
    });

    describe('the per-address ceiling', () => {
      withServer(kind, ['gina'], ({ gatehouse, app }) => {
        test(`after ${PER_ADDRESS_LIMIT - 1} failures on different usernames, ${TOGETHER} sent together: exactly one more is checked`, async () => {
          const page = await openSignInPage(app());
          for (let i = 1; i < PER_ADDRESS_LIMIT; i++) assertGenericFailure(await attempt(page, `spray-${i}`, 'Spring2026!'), `attempt ${i}`);
          const responses = await Promise.all(Array.from({ length: TOGETHER }, (_, i) => attempt(page, `together-${i}`, 'Spring2026!')));
          assert.equal(responses.filter((response) => response.status === 200).length, 1, responses.map((r) => r.status).join(' '));
          for (const response of responses.filter((r) => r.status !== 200)) assertLimited(response, 'past the ceiling');
          assert.equal((await failedSignIns(gatehouse())).length, PER_ADDRESS_LIMIT);
          // Past the ceiling even the right password of an untouched account waits: spraying stops here.
          assertLimited(await attempt(page, 'gina', PASSWORD), 'gina, past the ceiling');
        });
      });
    });

    describe('one account failing does not shut out the others at that address', () => {
      withServer(kind, ['alice', 'bob'], ({ gatehouse, app }) => {
        test(`${PER_ACCOUNT_LIMIT} failures on alice: bob still signs in from the same address, a ${PER_ACCOUNT_LIMIT + 1}st try on alice is refused`, async () => {
          const page = await openSignInPage(app());
          for (let i = 1; i <= PER_ACCOUNT_LIMIT; i++) assertGenericFailure(await attempt(page, 'alice', `wrong-password-${i}`), `attempt ${i}`);
          assert.equal((await gatehouse().directory.users.get('alice')).account_locked, true, 'alice is locked after ten');

          const bobsPage = await openSignInPage(app());
          const bob = await attempt(bobsPage, 'bob', PASSWORD);
          assert.equal(bob.status, 303, `bob signs in: ${bob.status} ${bob.text.slice(0, 200)}`);
          const step = await bobsPage.browser.follow(new URL(bob.headers.get('location') ?? '', gatehouse().issuer).href, REDIRECT_URI);
          assert.ok(new URL(step.url).searchParams.get('code'), 'bob gets a code');

          assertLimited(await attempt(page, 'alice', 'wrong-password-21'), 'alice, 21st');
          // The typed name is the key, whatever its case or spaces.
          assertLimited(await attempt(page, ' ALICE ', 'wrong-password-22'), 'ALICE, 22nd');
        });
      });
    });

    describe('the account lockout', () => {
      withServer(kind, ['lena', 'other'], ({ gatehouse, app }) => {
        test(`15 wrong passwords and the right one sent together: the right one is refused like the others, and audited`, async () => {
          const page = await openSignInPage(app());
          const guesses = Array.from({ length: 15 }, (_, i) => attempt(page, 'lena', `wrong-password-${i}`));
          const right = attempt(page, 'lena', PASSWORD);
          const responses = await Promise.all([...guesses, right]);
          for (const [i, response] of responses.entries()) assertGenericFailure(response, `request ${i + 1}`);
          const rightResponse = responses.at(-1) as Response2;
          assert.ok(!rightResponse.headers.getSetCookie().some((cookie) => cookie.startsWith('_session')), 'no session cookie');
          assert.equal(page.browser.cookies.has('_session'), false, 'no session');

          const lena = await gatehouse().directory.users.get('lena');
          assert.equal(lena.account_locked, true);
          const events = (await failedSignIns(gatehouse())).filter((event) => event.actor.id === lena.id);
          assert.equal(events.length, 16, 'every attempt is audited as a failure');
          const reasons = events.map((event) => event.details.reason);
          assert.ok(reasons.filter((reason) => reason === 'bad_password').length <= LOCKOUT_THRESHOLD, `at most ${LOCKOUT_THRESHOLD} passwords checked: ${reasons.join(' ')}`);
          assert.ok(reasons.includes('locked'), `the rest refused as locked: ${reasons.join(' ')}`);
          const { events: successes } = await gatehouse().directory.audit.list({ action: 'user.sign_in', actor: lena.id });
          assert.equal(successes.filter((event) => event.outcome === 'success').length, 0, 'no successful sign-in');

          // Afterwards the right password still gets the generic message, until an administrator unlocks.
          assertGenericFailure(await attempt(page, 'lena', PASSWORD), 'the right password later');
          await gatehouse().directory.users.unlock('lena');
          assert.equal((await attempt(page, 'lena', PASSWORD)).status, 303, 'unlocked, the right password signs in');
        });

        test('a wrong and a right password sent together, under the threshold: the right one signs in', async () => {
          const page = await openSignInPage(app());
          const [wrong, right] = await Promise.all([attempt(page, 'other', 'wrong-password'), attempt(page, 'other', PASSWORD)]);
          assertGenericFailure(wrong, 'the wrong one');
          assert.equal(right.status, 303, `the right one: ${right.status} ${right.text.slice(0, 200)}`);
          assert.equal((await gatehouse().directory.users.get('other')).account_locked, false);
        });
      });
    });
  });
}
