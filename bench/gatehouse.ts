/**
 * Gatehouse under test. Run as a child process (`--serve sqlite|postgres`): a fresh database (SQLite
 * in a temp data dir, or a fresh database on the PostgreSQL server named by
 * GATEHOUSE_BENCH_DATABASE_URL), one user, one confidential app bound to All Users, and the real
 * server on a loopback port, configured as in production (log level warn).
 * The orchestrator side starts it and drives password sign-ins through its HTML form.
 */
import { startServer } from '../src/http/server.ts';
import { type Runtime, openRuntime } from '../src/runtime.ts';
import { totpCode } from '../src/authn/totp.ts';
import { type DatabaseKind, freshConfig } from '../test/helpers/databases.ts';
import {
  type ChildServer,
  HttpSession,
  type Target,
  type TargetInfo,
  browserSignIn,
  exchangeCode,
  freePort,
  nextLoopbackAddress,
  runLoop,
  serveInChild,
  startChild,
} from './lib.ts';

export const BENCH_USER = { username: 'bench.user', email: 'bench.user@example.com', password: 'correct horse battery staple' } as const;
/** Never fetched: flows stop at the redirect. Loopback all the same. */
export const REDIRECT_URI = 'http://127.0.0.1:9/bench/callback';
export const SCOPE = 'openid email profile offline_access';

async function serve(kind: DatabaseKind): Promise<{ info: TargetInfo; close(): Promise<void> }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { config, cleanup } = await freshConfig(kind, { issuer, port, host: '127.0.0.1' });
  const runtime = await openRuntime(config);
  try {
    const client = await seedBenchData(runtime);
    const totpUsers = await enrolTotpUsers(runtime);
    const server = await startServer(runtime, { logLevel: 'warn' });
    return {
      info: {
        name: `Gatehouse (${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
        issuer: server.url,
        ...client,
        redirectUri: REDIRECT_URI,
        username: BENCH_USER.username,
        password: BENCH_USER.password,
        scope: SCOPE,
        totpUsers,
      },
      async close() {
        await server.close();
        await runtime.close();
        await cleanup();
      },
    };
  } catch (error) {
    await runtime.close();
    await cleanup();
    throw error;
  }
}

/** The bench user and the bench app (confidential, refresh grant, bound to All Users): what every Gatehouse column is driven with. */
export async function seedBenchData(runtime: Runtime): Promise<{ clientId: string; clientSecret: string }> {
  const { users, apps } = runtime.directory;
  await users.create({ username: BENCH_USER.username, email: BENCH_USER.email, firstname: 'Bench', lastname: 'User', password: BENCH_USER.password });
  const { app, clientSecret } = await apps.create({
    label: 'Bench app',
    redirect_uris: [REDIRECT_URI],
    auth_method: 'client_secret_basic',
    refresh_token: true,
    scopes: ['email', 'profile'],
    groups_claim: 'groups',
  });
  if (!clientSecret) throw new Error('a confidential app has a secret');
  await apps.bind(app.id, 'All Users');
  return { clientId: app.client_id, clientSecret };
}

export function startGatehouse(kind: DatabaseKind, execArgv: string[] = []): Promise<ChildServer> {
  const env = { ...process.env };
  if (kind === 'postgres') {
    const url = process.env.GATEHOUSE_BENCH_DATABASE_URL;
    if (!url) throw new Error('GATEHOUSE_BENCH_DATABASE_URL is not set');
    // test/helpers/databases.ts creates (and drops) a fresh database on the server it names.
    env.GATEHOUSE_TEST_POSTGRES_URL = url;
  }
  return startChild(new URL(import.meta.url), ['--serve', kind], { execArgv, env });
}

/**
 * One person signing in with a password, as a new browser from an address of its own: the
 * authorization request, the sign-in form, the form POST (argon2id verify), the redirect back with
 * a code, and the app's code exchange.
 */
export async function passwordSignIn(target: Target): Promise<void> {
  const session = new HttpSession(nextLoopbackAddress());
  try {
    const { code, forms } = await browserSignIn(target, session);
    if (forms === 0) throw new Error('signed in without a password form');
    await exchangeCode(target, session, code);
  } finally {
    session.close();
  }
}

export const signInLoad = (target: Target, options: { concurrency: number; durationMs: number; signal?: AbortSignal; cpu?: () => Promise<number> }) =>
  runLoop({ ...options, task: () => passwordSignIn(target) });

/**
 * Enough people with an authenticator app that each signs in at most once per 30-second step (a
 * code is accepted once): they share the bench user's password hash, set directly, so that setting
 * them up costs one argon2 hash instead of one each.
 */
// Set by the orchestrator: 0 unless the password + TOTP row runs, so other runs (and their profiles)
// don't start with 3000 enrolments.
const TOTP_USERS = Number(process.env.BENCH_TOTP_USERS ?? 3000);
async function enrolTotpUsers(runtime: Runtime): Promise<{ username: string; secret: string }[]> {
  const { db } = runtime.storage;
  const template = await db.selectFrom('users').select('password_hash').where('username', '=', BENCH_USER.username).executeTakeFirstOrThrow();
  const people: { username: string; secret: string }[] = [];
  for (let i = 0; i < TOTP_USERS; i++) {
    const username = `bench.totp.${i}`;
    const user = await runtime.directory.users.create({ username, email: `${username}@example.com` });
    await db.updateTable('users').set({ password_hash: template.password_hash }).where('id', '=', user.id).execute();
    const { secret } = await runtime.factors.beginTotp(user.id, { issuer: 'Bench', account: username });
    await runtime.factors.confirmTotp(user.id, totpCode(secret, Date.now() - 30_000));
    people.push({ username, secret });
  }
  return people;
}

/**
 * The same flow with a second step: the password, then a code from the person's authenticator app.
 * Each person is used once per time step (their code is then spent), taking the next in turn.
 */
const nextTotpTurn = new WeakMap<object, number>();
export function passwordTotpSignInLoad(target: Target, options: { concurrency: number; durationMs: number; signal?: AbortSignal; cpu?: () => Promise<number> }) {
  const people = target.totpUsers ?? [];
  if (people.length === 0) throw new Error(`${target.name} has no people with an authenticator app`);
  return runLoop({
    ...options,
    task: async () => {
      // Across runs (the warm-up, then the measured one): a person's code of this step is spent.
      const turn = nextTotpTurn.get(people) ?? 0;
      nextTotpTurn.set(people, turn + 1);
      const person = people[turn % people.length]!;
      const session = new HttpSession(nextLoopbackAddress());
      try {
        const { code, forms } = await browserSignIn(target, session, {}, { username: person.username, password: target.password, totpCode: () => totpCode(person.secret, Date.now()) });
        if (forms < 3) throw new Error('signed in without the code step');
        await exchangeCode(target, session, code);
      } finally {
        session.close();
      }
    },
  });
}

if (import.meta.main && process.argv[2] === '--serve') {
  const kind = process.argv[3];
  if (kind !== 'sqlite' && kind !== 'postgres') throw new Error(`--serve sqlite|postgres, not ${kind}`);
  await serveInChild(() => serve(kind));
}
