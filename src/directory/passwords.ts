import { type Algorithm, hash, verify } from '@node-rs/argon2';

// Algorithm is an ambient const enum, which type stripping can't read: 2 is its Argon2id member.
const ARGON2ID = 2 as Algorithm;

/**
 * OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). The napi functions run on libuv's
 * thread pool, so hashing never blocks the event loop that serves tokens.
 */
export const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export const hashPassword = (password: string): Promise<string> => hash(password, ARGON2_OPTIONS);

// A hash of a random password, checked when the user doesn't exist so that both cases take as long.
let decoyHash: Promise<string> | undefined;

export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (storedHash === null || password.length > MAX_PASSWORD_LENGTH) {
    decoyHash ??= hashPassword(crypto.randomUUID());
    await verify(await decoyHash, password.slice(0, MAX_PASSWORD_LENGTH)).catch(() => false);
    return false;
  }
  return verify(storedHash, password).catch(() => false);
}
