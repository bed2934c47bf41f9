import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 bits of randomness, base64url: what an app is handed once as its client secret. */
export const newClientSecret = (): string => randomBytes(32).toString('base64url');

// The secret already carries 256 bits of entropy, so a fast hash resists guessing as well as a slow one
// would, and a copy of the database alone never reveals a usable secret.
export const hashClientSecret = (secret: string): string => `sha256:${hash('sha256', secret, 'base64url')}`;

export function clientSecretMatches(presented: unknown, storedHash: string | undefined | null): boolean {
  if (typeof presented !== 'string' || typeof storedHash !== 'string') return false;
  const expected = Buffer.from(storedHash);
  const actual = Buffer.from(hashClientSecret(presented));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
