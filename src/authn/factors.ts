import type { Kysely } from 'kysely';
import { deriveKey, seal, unseal } from '../oidc/secret-key.ts';
import { type ReadFn, readThrough } from '../storage/read.ts';
import type { Database } from '../storage/schema.ts';
import { DomainError } from '../directory/errors.ts';
import { looksLikeRecoveryCode, newRecoveryCodes, recoveryCodeHash } from './recovery-codes.ts';
import { matchingStep, newTotpSecret, totpUri } from './totp.ts';
import type { Passkey } from './webauthn.ts';

/** Milliseconds since the epoch; injectable so that tests move time instead of sleeping. */
export type Clock = () => number;

export interface FactorSummary {
  totp: { confirmed_at: string; last_used_at: string | null } | null;
  recovery_codes: { remaining: number; created_at: string } | null;
  /** Security keys and passkeys (authn/webauthn.ts), oldest first. */
  passkeys: Passkey[];
}

export interface TotpEnrolment {
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  /** `otpauth://totp/...`, for the QR code. */
  uri: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * A person's second factors: one TOTP authenticator and a set of recovery codes. Secrets are sealed
 * at rest; verification consumes what it accepts with a compare-and-set, so two sign-ins racing
 * with the same code (or recovery code) can't both succeed, on any number of nodes.
 */
// hasSecondFactor, asked at every password sign-in, in one statement: a confirmed authenticator app, or a passkey.
const HAS_SECOND_FACTOR = `select
  (select confirmed_at from totp_factors where user_id = ?) as totp_confirmed_at,
  (select count(*) from webauthn_credentials where user_id = ?) as passkeys`;

/** `read`: the storage's fast read path, for hasSecondFactor (default: through `db`). */
export function createFactorStore(db: Kysely<Database>, secret: Buffer, clock: Clock = Date.now, read: ReadFn = readThrough(db as Kysely<unknown>)) {
  const totpKey = deriveKey(secret, 'totp-secrets');
  const recoveryKey = deriveKey(secret, 'recovery-codes');

  async function hasPasskey(userId: string): Promise<boolean> {
    return Boolean(await db.selectFrom('webauthn_credentials').select('id').where('user_id', '=', userId).limit(1).executeTakeFirst());
  }

  async function totpRow(userId: string) {
    return db.selectFrom('totp_factors').selectAll().where('user_id', '=', userId).executeTakeFirst();
  }

  return {
    async summary(userId: string): Promise<FactorSummary> {
      const [totp, codes, keys] = await Promise.all([
        totpRow(userId),
        db.selectFrom('recovery_codes').select(['created_at', 'used_at']).where('user_id', '=', userId).execute(),
        db.selectFrom('webauthn_credentials').select(['id', 'name', 'created_at', 'last_used_at', 'backed_up', 'device_type']).where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute(),
      ]);
      return {
        totp: totp?.confirmed_at ? { confirmed_at: totp.confirmed_at, last_used_at: totp.last_used_at } : null,
        recovery_codes: codes.length ? { remaining: codes.filter((c) => c.used_at === null).length, created_at: codes[0]!.created_at } : null,
        passkeys: keys.map((key) => ({ ...key, backed_up: key.backed_up === 1 })),
      };
    },

    /** Whether the person has a factor that a sign-in must ask for (an enrolment under way is none). */
    async hasSecondFactor(userId: string): Promise<boolean> {
      const [row] = await read<{ totp_confirmed_at: string | null; passkeys: number | string }>(HAS_SECOND_FACTOR, [userId, userId]);
      return Boolean(row?.totp_confirmed_at) || Number(row?.passkeys) > 0;
    },

    /** Whether the person registered a security key or passkey. */
    hasPasskey,

    /** Whether the person has an authenticator app (the second-factor page then asks for its code). */
    async hasTotp(userId: string): Promise<boolean> {
      return Boolean((await totpRow(userId))?.confirmed_at);
    },

    /**
     * Starts (or restarts) a TOTP enrolment: a new secret, not yet a factor until confirmed with a
     * code. A confirmed authenticator must be removed first, so that it is never replaced unnoticed.
     */
    async beginTotp(userId: string, labels: { issuer: string; account: string }): Promise<TotpEnrolment> {
      const existing = await totpRow(userId);
      if (existing?.confirmed_at) throw new DomainError('factor.totp_already_enrolled', 409, 'An authenticator app is already set up. Remove it first to set up another.');
      const totpSecret = newTotpSecret();
      const values = { secret_sealed: seal(totpKey, totpSecret), confirmed_at: null, last_step: null, created_at: iso(clock()), last_used_at: null };
      await db
        .insertInto('totp_factors')
        .values({ user_id: userId, ...values })
        .onConflict((oc) => oc.column('user_id').doUpdateSet(values))
        .execute();
      return { secret: totpSecret, uri: totpUri(totpSecret, { issuer: labels.issuer, label: labels.account }) };
    },

    /** Finishes an enrolment with a first code from the app; that code is then used up. */
    async confirmTotp(userId: string, code: string): Promise<void> {
      const row = await totpRow(userId);
      if (!row) throw new DomainError('factor.totp_not_started', 409, 'Start setting up an authenticator app first.');
      if (row.confirmed_at) throw new DomainError('factor.totp_already_enrolled', 409, 'The authenticator app is already set up.');
      const now = clock();
      const step = matchingStep(unseal(totpKey, row.secret_sealed), code, now);
      if (step === undefined) throw new DomainError('factor.totp_code_wrong', 400, 'That code is not right. Enter the 6-digit code your app shows now.');
      const confirmed = await db
        .updateTable('totp_factors')
        .set({ confirmed_at: iso(now), last_step: step, last_used_at: iso(now) })
        .where('user_id', '=', userId)
        .where('confirmed_at', 'is', null)
        .where('secret_sealed', '=', row.secret_sealed)
        .executeTakeFirst();
      if (Number(confirmed.numUpdatedRows) !== 1) throw new DomainError('factor.totp_not_started', 409, 'The set-up changed meanwhile: start again.');
    },

    /**
     * Checks a sign-in's code. A code is accepted once: its time step must be later than the last one
     * accepted, and taking it is a compare-and-set on that step.
     */
    async verifyTotp(userId: string, code: string): Promise<boolean> {
      const row = await totpRow(userId);
      if (!row?.confirmed_at) return false;
      const now = clock();
      const step = matchingStep(unseal(totpKey, row.secret_sealed), code, now);
      if (step === undefined) return false;
      const taken = await db
        .updateTable('totp_factors')
        .set({ last_step: step, last_used_at: iso(now) })
        .where('user_id', '=', userId)
        .where('confirmed_at', 'is not', null)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      return Number(taken.numUpdatedRows) === 1;
    },

    async removeTotp(userId: string): Promise<boolean> {
      const removed = await db.deleteFrom('totp_factors').where('user_id', '=', userId).executeTakeFirst();
      return Number(removed.numDeletedRows) > 0;
    },

    /** A new set of codes, replacing any earlier set: shown once, stored only as keyed hashes. */
    async regenerateRecoveryCodes(userId: string): Promise<string[]> {
      const codes = newRecoveryCodes();
      const created_at = iso(clock());
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
        await trx
          .insertInto('recovery_codes')
          .values(codes.map((code) => ({ user_id: userId, code_hash: recoveryCodeHash(recoveryKey, code), created_at, used_at: null })))
          .execute();
      });
      return codes;
    },

    /** Uses up a recovery code: `remaining` is how many are left afterwards, undefined when the code was not one. */
    async redeemRecoveryCode(userId: string, code: string): Promise<{ remaining: number } | undefined> {
      if (!looksLikeRecoveryCode(code)) return undefined;
      const used = await db
        .updateTable('recovery_codes')
        .set({ used_at: iso(clock()) })
        .where('user_id', '=', userId)
        .where('code_hash', '=', recoveryCodeHash(recoveryKey, code))
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) return undefined;
      const left = await db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirstOrThrow();
      return { remaining: Number(left.n) };
    },

    /** An administrator's reset: every factor and code of the person, gone. */
    async resetAll(userId: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('totp_factors').where('user_id', '=', userId).execute();
        await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
        await trx.deleteFrom('webauthn_credentials').where('user_id', '=', userId).execute();
        await trx.deleteFrom('webauthn_challenges').where('user_id', '=', userId).execute();
      });
    },
  };
}

export type FactorStore = ReturnType<typeof createFactorStore>;
