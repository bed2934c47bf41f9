import { randomUUID } from 'node:crypto';
import type * as SimpleWebAuthn from '@simplewebauthn/server';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Kysely, Selectable } from 'kysely';
import { DomainError } from '../directory/errors.ts';
import type { Database, WebauthnCredentialsTable } from '../storage/schema.ts';
import type { Clock } from './factors.ts';

/**
 * The WebAuthn library, loaded at the first ceremony: with its ASN.1 and X.509 stack it is about
 * 250 modules, which no token request needs and every server start used to load.
 */
let library: Promise<[typeof import('@simplewebauthn/server'), typeof import('@simplewebauthn/server/helpers')]> | undefined;
const webAuthnLibrary = () => (library ??= Promise.all([import('@simplewebauthn/server'), import('@simplewebauthn/server/helpers')]));

/** How long a ceremony's challenge can be answered: the browser's own timeout is 60 s. */
const CHALLENGE_TTL_MS = 5 * 60_000;
const MAX_NAME = 64;

/** A security key or passkey as its owner and administrators see it: never its key material. */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  backed_up: boolean;
  device_type: 'single_device' | 'multi_device';
}

/**
 * A checked assertion. `amr` is RFC 8176's name for what was used: 'hwk' for a device-bound key
 * (a security key, a platform authenticator that never leaves the device), 'swk' for a synced
 * passkey, whose private key lives in a cloud keychain as software.
 */
export type AssertionOutcome =
  | { ok: true; userId: string; credentialId: string; amr: 'hwk' | 'swk'; userVerified: boolean }
  | { ok: false; reason: 'no_challenge' | 'unknown_credential' | 'other_person' | 'invalid' | 'counter'; userId?: string };

type CredentialRow = Selectable<WebauthnCredentialsTable>;

const iso = (ms: number): string => new Date(ms).toISOString();

const toPasskey = (row: CredentialRow): Passkey => ({
  id: row.id,
  name: row.name,
  created_at: row.created_at,
  last_used_at: row.last_used_at,
  backed_up: row.backed_up === 1,
  device_type: row.device_type,
});

/** The relying party is the issuer: its host is the RP ID, its origin the only origin accepted. */
export function relyingPartyOf(issuer: string): { id: string; origin: string } {
  const url = new URL(issuer);
  return { id: url.hostname, origin: url.origin };
}

/** Challenge keys: what each ceremony is bound to (the server decides, the client never names one). */
export const challengeKeys = {
  registration: (userId: string) => `registration:${userId}`,
  signIn: (interactionUid: string) => `sign-in:${interactionUid}`,
  reauthentication: (userId: string) => `reauthentication:${userId}`,
};

/**
 * Security keys and passkeys, through @simplewebauthn/server: registration and assertion
 * ceremonies with one-time server-side challenges, and the credentials' storage.
 */
export function createWebAuthn(db: Kysely<Database>, issuer: string, clock: Clock = Date.now) {
  const rp = relyingPartyOf(issuer);

  async function putChallenge(key: string, challenge: string, userId: string | null): Promise<void> {
    const now = clock();
    const values = { challenge, user_id: userId, expires_at: iso(now + CHALLENGE_TTL_MS) };
    await db.deleteFrom('webauthn_challenges').where('expires_at', '<', iso(now)).execute();
    await db
      .insertInto('webauthn_challenges')
      .values({ key, ...values })
      .onConflict((oc) => oc.column('key').doUpdateSet(values))
      .execute();
  }

  /** The challenge of a ceremony, used up by this one look (a replayed answer finds none). */
  async function takeChallenge(key: string) {
    const row = await db.deleteFrom('webauthn_challenges').where('key', '=', key).returningAll().executeTakeFirst();
    return row && row.expires_at > iso(clock()) ? row : undefined;
  }

  async function credentialsOf(userId: string): Promise<CredentialRow[]> {
    return db.selectFrom('webauthn_credentials').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  }

  const descriptor = (row: CredentialRow) => ({ id: row.credential_id, transports: JSON.parse(row.transports) as AuthenticatorTransport[] });

  function checkName(name: string): string {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > MAX_NAME || /\p{Cc}/u.test(trimmed)) {
      throw new DomainError('passkey.invalid_name', 400, `Name the security key or passkey in 1 to ${MAX_NAME} characters, without control characters.`);
    }
    return trimmed;
  }

  return {
    relyingParty: rp,

    async list(userId: string): Promise<Passkey[]> {
      return (await credentialsOf(userId)).map(toPasskey);
    },

    async has(userId: string): Promise<boolean> {
      return Boolean(await db.selectFrom('webauthn_credentials').select('id').where('user_id', '=', userId).limit(1).executeTakeFirst());
    },

    /**
     * Options for registering a new key: a discoverable credential preferred (a passkey, for
     * signing in without a password), user verification preferred, and the person's existing
     * credentials excluded so that one authenticator is not registered twice.
     */
    async registrationOptions(user: { id: string; username: string; displayname?: string | null }, rpName: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await credentialsOf(user.id);
      const [{ generateRegistrationOptions }, { isoUint8Array }] = await webAuthnLibrary();
      const options = await generateRegistrationOptions({
        rpName,
        rpID: rp.id,
        userName: user.username,
        userDisplayName: user.displayname || user.username,
        // The user handle is the person's opaque id, never a name or email (WebAuthn §14.6.1).
        userID: isoUint8Array.fromUTF8String(user.id),
        attestationType: 'none',
        excludeCredentials: existing.map(descriptor),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      await putChallenge(challengeKeys.registration(user.id), options.challenge, user.id);
      return options;
    },

    /** Verifies a registration answering the person's latest options, and stores the credential. */
    async register(userId: string, name: string, response: RegistrationResponseJSON): Promise<Passkey> {
      const label = checkName(name);
      const challenge = await takeChallenge(challengeKeys.registration(userId));
      if (!challenge || challenge.user_id !== userId) throw new DomainError('passkey.no_challenge', 409, 'Start adding a security key or passkey first (its options have expired or were used).');
      const [{ verifyRegistrationResponse }, { isoBase64URL }] = await webAuthnLibrary();
      let verification: Awaited<ReturnType<typeof SimpleWebAuthn.verifyRegistrationResponse>>;
      try {
        verification = await verifyRegistrationResponse({ response, expectedChallenge: challenge.challenge, expectedOrigin: rp.origin, expectedRPID: rp.id, requireUserVerification: false });
      } catch {
        verification = { verified: false };
      }
      if (!verification.verified) throw new DomainError('passkey.registration_invalid', 400, 'The security key or passkey could not be verified. Try again.');
      const { credential, credentialDeviceType, credentialBackedUp, aaguid } = verification.registrationInfo;
      const row: CredentialRow = {
        id: randomUUID(),
        user_id: userId,
        credential_id: credential.id,
        public_key: isoBase64URL.fromBuffer(credential.publicKey),
        counter: credential.counter,
        transports: JSON.stringify(credential.transports ?? []),
        device_type: credentialDeviceType === 'multiDevice' ? 'multi_device' : 'single_device',
        backed_up: credentialBackedUp ? 1 : 0,
        aaguid,
        name: label,
        created_at: iso(clock()),
        last_used_at: null,
      };
      const known = await db.selectFrom('webauthn_credentials').select('id').where('credential_id', '=', credential.id).executeTakeFirst();
      if (known) throw new DomainError('passkey.already_registered', 409, 'This security key or passkey is already registered.');
      await db.insertInto('webauthn_credentials').values(row).execute();
      return toPasskey(row);
    },

    async rename(userId: string, id: string, name: string): Promise<Passkey> {
      const label = checkName(name);
      const row = await db.updateTable('webauthn_credentials').set({ name: label }).where('id', '=', id).where('user_id', '=', userId).returningAll().executeTakeFirst();
      if (!row) throw new DomainError('passkey.not_found', 404, 'No such security key or passkey.');
      return toPasskey(row);
    },

    async remove(userId: string, id: string): Promise<boolean> {
      const removed = await db.deleteFrom('webauthn_credentials').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
      return Number(removed.numDeletedRows) > 0;
    },

    async removeAll(userId: string): Promise<void> {
      await db.deleteFrom('webauthn_credentials').where('user_id', '=', userId).execute();
      await db.deleteFrom('webauthn_challenges').where('user_id', '=', userId).execute();
    },

    /**
     * Options for an assertion, stored under `key`. With `userId`, only that person's credentials
     * may answer (a second factor, a re-authentication); without, any discoverable credential may
     * (a passwordless sign-in, where the assertion itself says who).
     */
    async authenticationOptions(key: string, options: { userId?: string; userVerification: 'required' | 'preferred' }): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allowCredentials = options.userId ? (await credentialsOf(options.userId)).map(descriptor) : [];
      const [{ generateAuthenticationOptions }] = await webAuthnLibrary();
      const generated = await generateAuthenticationOptions({ rpID: rp.id, allowCredentials, userVerification: options.userVerification });
      await putChallenge(key, generated.challenge, options.userId ?? null);
      return generated;
    },

    /**
     * Checks an assertion against the challenge stored under `key` (used up either way), the
     * issuer's origin and RP ID, and the stored public key; `userId` is whom the challenge was for
     * (undefined: a discoverable sign-in). A signature counter that did not grow is refused (a
     * cloned authenticator), and taking the new value is a compare-and-set, so one assertion can't
     * be used twice even by racing requests.
     */
    async authenticate(key: string, response: AuthenticationResponseJSON, options: { userId?: string; requireUserVerification: boolean }): Promise<AssertionOutcome> {
      const challenge = await takeChallenge(key);
      if (!challenge || challenge.user_id !== (options.userId ?? null)) return { ok: false, reason: 'no_challenge' };
      const credentialId = typeof response?.id === 'string' ? response.id : '';
      const row = credentialId ? await db.selectFrom('webauthn_credentials').selectAll().where('credential_id', '=', credentialId).executeTakeFirst() : undefined;
      if (!row) return { ok: false, reason: 'unknown_credential' };
      if (options.userId && row.user_id !== options.userId) return { ok: false, reason: 'other_person', userId: options.userId };
      // A discoverable credential names its person too: it must be the credential's.
      const [{ verifyAuthenticationResponse }, { isoBase64URL, isoUint8Array }] = await webAuthnLibrary();
      const userHandle = response.response?.userHandle;
      if (userHandle && isoUint8Array.toUTF8String(isoBase64URL.toBuffer(userHandle)) !== row.user_id) return { ok: false, reason: 'invalid', userId: row.user_id };
      const counter = Number(row.counter);
      let verification: Awaited<ReturnType<typeof SimpleWebAuthn.verifyAuthenticationResponse>>;
      try {
        verification = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge.challenge,
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          credential: { id: row.credential_id, publicKey: isoBase64URL.toBuffer(row.public_key), counter, transports: JSON.parse(row.transports) as AuthenticatorTransport[] },
          requireUserVerification: options.requireUserVerification,
        });
      } catch (error) {
        return { ok: false, reason: error instanceof Error && /counter/i.test(error.message) ? 'counter' : 'invalid', userId: row.user_id };
      }
      if (!verification.verified) return { ok: false, reason: 'invalid', userId: row.user_id };
      const info = verification.authenticationInfo;
      const taken = await db
        .updateTable('webauthn_credentials')
        .set({ counter: info.newCounter, last_used_at: iso(clock()), backed_up: info.credentialBackedUp ? 1 : 0, device_type: info.credentialDeviceType === 'multiDevice' ? 'multi_device' : 'single_device' })
        .where('id', '=', row.id)
        .where('counter', '=', counter)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) !== 1) return { ok: false, reason: 'counter', userId: row.user_id };
      return { ok: true, userId: row.user_id, credentialId: row.id, amr: info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk', userVerified: info.userVerified };
    },
  };
}

export type WebAuthn = ReturnType<typeof createWebAuthn>;
