import { hkdfSync } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { TokenEndpointGrantContext } from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import type { ReadFn, WriteFn } from '../storage/read.ts';
import { storageKey } from './adapter.ts';
import { deriveKey, seal, unseal } from './secret-key.ts';

/**
 * Refresh-token reuse grace. Refresh tokens rotate on every use, and presenting a rotated one again
 * revokes the grant (RFC 9700 §4.14.2). Two tabs, or a request retried after its answer was lost,
 * present the same token twice within moments and lose the sign-in that way. An app may have a
 * reuse interval (0-60 s, 0 = strict): within it, the refresh token just rotated may be presented
 * again and gets the very response of its rotation back (same access token, same refresh token),
 * as long as those are still the grant's newest, the grant stands and the person still has
 * access; after it, reuse revokes the grant as before.
 *
 * oidc-provider's own refresh_token grant does all the protocol work; this only wraps it. A
 * rotation of an app with an interval first claims the presented token in refresh_token_rotations
 * (a compare-and-set on its hash, so it works across processes and nodes): the request that claims
 * it rotates, and a concurrent one with the same token waits for that rotation's response instead
 * of racing it into a replay. The response is kept sealed with a key derived from the installation
 * secret *and* the consumed refresh token, so the table yields no usable token even with the secret.
 */

/** The client metadata property carrying the app's interval in seconds (clients.ts). */
export const REUSE_INTERVAL_PROPERTY = 'gatehouse_refresh_token_reuse_interval';
/** How long a rotation under way may hold its claim before others stop waiting for it. */
const ROTATION_TIMEOUT_MS = 10_000;
const POLL_MS = 20;

const epochSeconds = (ms: number) => Math.ceil(ms / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RotationRow {
  client_id: string;
  response: string | null;
  expires_at: number;
}

/** What is sealed: the response as sent, and what decides whether it may be sent again. */
interface RememberedRotation {
  rotatedAt: number;
  interval: number;
  scope: string | null;
  body: { access_token: string; refresh_token: string } & Record<string, unknown>;
}

type GrantContext = TokenEndpointGrantContext<{ refresh_token?: string }>;
type GrantHandler = (ctx: GrantContext) => Promise<void>;

export interface RefreshGraceStorage {
  read: ReadFn;
  write: WriteFn;
  secret: Buffer;
}

const reuseInterval = (ctx: GrantContext): number => {
  const value = (ctx.oidc.client as unknown as Record<string, unknown>)[REUSE_INTERVAL_PROPERTY];
  return typeof value === 'number' && value > 0 ? value : 0;
};

/** Replaces the provider's refresh_token grant handler with one that honours each app's reuse interval. */
export function enableRefreshTokenReuseGrace(provider: Provider, storage: RefreshGraceStorage): void {
  const { read, write } = storage;
  const internals = instance(provider);
  const builtIn = internals.grantTypeHandlers.get('refresh_token') as GrantHandler | undefined;
  if (!builtIn) throw new Error('oidc-provider has no refresh_token grant to wrap');
  const strict: GrantHandler = builtIn;
  const baseKey = deriveKey(storage.secret, 'refresh-token-rotations');
  // Only someone holding the consumed refresh token (and the installation secret) can open its response.
  const sealingKey = (presented: string) => Buffer.from(hkdfSync('sha256', baseKey, Buffer.from(presented, 'utf8'), 'gatehouse:refresh-token-rotation', 32));

  async function rotation(id: string): Promise<RotationRow | undefined> {
    const [row] = await read<RotationRow>('select client_id, response, expires_at from refresh_token_rotations where id = ?', [id]);
    return row && { ...row, expires_at: Number(row.expires_at) };
  }

  /** The claimant rotates through oidc-provider and remembers the response (or gives the claim up). */
  async function rotateAndRemember(ctx: GrantContext, id: string, presented: string, interval: number): Promise<void> {
    try {
      await strict(ctx);
    } catch (error) {
      await write('delete from refresh_token_rotations where id = ? and response is null', [id]);
      throw error;
    }
    const body = ctx.body as RememberedRotation['body'] | undefined;
    if (!body?.refresh_token || !body.access_token) {
      await write('delete from refresh_token_rotations where id = ? and response is null', [id]);
      return;
    }
    const rotatedAt = Date.now();
    const remembered: RememberedRotation = { rotatedAt, interval, scope: ctx.oidc.params.scope ?? null, body };
    await write('update refresh_token_rotations set response = ?, expires_at = ? where id = ?', [
      seal(sealingKey(presented), JSON.stringify(remembered)),
      epochSeconds(rotatedAt + interval * 1000),
      id,
    ]);
  }

  /** Waits while another request's rotation of the same token is under way; undefined once its claim is gone. */
  async function settled(id: string): Promise<RotationRow | undefined> {
    const deadline = Date.now() + ROTATION_TIMEOUT_MS;
    for (;;) {
      const row = await rotation(id);
      if (!row || row.response !== null || Date.now() >= deadline) return row;
      await sleep(POLL_MS);
    }
  }

  /** Answers with the remembered response if every condition still holds; false to leave the request to the strict grant. */
  async function replay(ctx: GrantContext, row: RotationRow, presented: string, interval: number): Promise<boolean> {
    if (row.response === null || row.client_id !== ctx.oidc.client.clientId) return false;
    let remembered: RememberedRotation;
    try {
      remembered = JSON.parse(unseal(sealingKey(presented), row.response)) as RememberedRotation;
    } catch {
      return false;
    }
    if (Date.now() >= remembered.rotatedAt + Math.min(interval, remembered.interval) * 1000) return false;
    if (remembered.scope !== (ctx.oidc.params.scope ?? null)) return false;
    const { RefreshToken, AccessToken, Grant } = ctx.oidc.provider;
    // Only while the rotation's refresh token is still the newest, and nothing was revoked since.
    const refreshToken = await RefreshToken.find(remembered.body.refresh_token);
    if (!refreshToken || refreshToken.consumed || refreshToken.isExpired || refreshToken.clientId !== ctx.oidc.client.clientId) return false;
    const accessToken = await AccessToken.find(remembered.body.access_token);
    if (!accessToken || accessToken.grantId !== refreshToken.grantId) return false;
    // The adapter finds a grant only while its person still has access to the app (adapter.ts).
    const grant = refreshToken.grantId ? await Grant.find(refreshToken.grantId) : undefined;
    if (!grant || grant.clientId !== ctx.oidc.client.clientId) return false;
    ctx.oidc.entity('RefreshToken', refreshToken);
    ctx.oidc.entity('AccessToken', accessToken);
    ctx.oidc.entity('Grant', grant);
    ctx.body = remembered.body;
    return true;
  }

  async function refreshWithGrace(ctx: GrantContext): Promise<void> {
    const interval = reuseInterval(ctx);
    const presented = ctx.oidc.params.refresh_token;
    if (interval === 0 || typeof presented !== 'string' || presented === '' || presented.includes('\u0000')) return strict(ctx);
    // Sender-constrained requests (not offered today) get no replayed answer: their proof is per request.
    if (ctx.get('dpop')) return strict(ctx);
    const id = storageKey(presented);
    // Twice at most: a claim found expired, or given up by a failed rotation, is cleared and claimed afresh.
    for (let attempt = 0; attempt < 2; attempt++) {
      const now = Date.now();
      const claimed = await write('insert into refresh_token_rotations (id, client_id, response, expires_at) values (?, ?, null, ?) on conflict (id) do nothing', [
        id,
        ctx.oidc.client.clientId,
        epochSeconds(now + ROTATION_TIMEOUT_MS) + interval,
      ]);
      if (claimed === 1) return rotateAndRemember(ctx, id, presented, interval);
      const row = await settled(id);
      if (!row) continue;
      if (row.expires_at * 1000 <= Date.now()) {
        await write('delete from refresh_token_rotations where id = ? and expires_at = ?', [id, row.expires_at]);
        continue;
      }
      if (await replay(ctx, row, presented, interval)) return;
      break;
    }
    // Anything else is what it was without the grace: the strict grant refuses the token and, when
    // it was already used, revokes the grant.
    return strict(ctx);
  }

  provider.registerGrantType('refresh_token', refreshWithGrace, internals.grantTypeParams.get('refresh_token'));
}
