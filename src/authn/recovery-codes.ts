import { createHmac, randomInt } from 'node:crypto';

/**
 * Recovery codes: ten one-time codes of 10 characters from an alphabet without look-alikes (about
 * 50 bits each). With that much entropy a keyed hash (HMAC with a key derived from the installation
 * secret) is enough at rest, and it lets a code be found by an index look-up instead of trying ten
 * argon2 hashes; a stolen database alone can't be used to test guesses.
 */
export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const LENGTH = 10;

/** `xxxxx-xxxxx`: the hyphen is for reading aloud; typing it, spaces or capitals makes no difference. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

export const normaliseRecoveryCode = (code: string): string => code.toLowerCase().replace(/[\s-]+/g, '');

export const recoveryCodeHash = (key: Buffer, code: string): string => createHmac('sha256', key).update(normaliseRecoveryCode(code)).digest('base64url');

/** Worth looking up at all: the right length and alphabet once normalised. */
export const looksLikeRecoveryCode = (code: string): boolean => new RegExp(`^[${ALPHABET}]{${LENGTH}}$`).test(normaliseRecoveryCode(code));
