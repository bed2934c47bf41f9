import { availableParallelism } from 'node:os';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { invalid } from './errors.ts';

// Algorithm is an ambient const enum, which type stripping can't read: 2 is its Argon2id member.
const ARGON2ID = 2 as Algorithm;

/**
 * OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). The napi functions run on libuv's
 * thread pool, so hashing never blocks the event loop that serves tokens.
 */
export const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * argon2 runs on libuv's thread pool, which also signs tokens (WebCrypto) and reads files. Leave
 * it a thread: at most (pool size - 1) hashes at once, and no more than the machine has cores.
 * Sign-ins queue here instead of making every token request wait behind them.
 */
const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const MAX_HASHING = Math.max(1, Math.min(availableParallelism(), POOL_SIZE - 1));
let hashing = 0;
const queue: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  // A finishing hash hands its slot straight to the next in line, so the count never overshoots.
  if (hashing >= MAX_HASHING) await new Promise<void>((resolve) => queue.push(resolve));
  else hashing += 1;
  try {
    return await work();
  } finally {
    const next = queue.shift();
    if (next) next();
    else hashing -= 1;
  }
}

/**
 * Spaces, tabs, no-break spaces and the like only: long enough for any length rule, and as easy to
 * guess as no password at all (and often what an empty field pasted from elsewhere really holds).
 */
export const isBlankPassword = (password: string): boolean => /^\s+$/u.test(password);

/**
 * Every password that is stored passes through here (the API, the command line, the JumpCloud-style
 * API all set passwords through the user store), so the rule against blank ones lives here.
 */
export async function hashPassword(password: string): Promise<string> {
  if (isBlankPassword(password)) {
    throw invalid('user.password_blank', 'A password cannot consist only of spaces or other blank characters.', 'password');
  }
  return limited(() => hash(password, ARGON2_OPTIONS));
}

// A hash of a random password, checked when the user doesn't exist so that both cases take as long.
let decoyHash: Promise<string> | undefined;

/** Checks a typed password; a blank one never matches (one stored before blank ones were refused included). */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (storedHash === null || password.length > MAX_PASSWORD_LENGTH || isBlankPassword(password)) {
    decoyHash ??= hashPassword(crypto.randomUUID());
    const decoy = await decoyHash;
    await limited(() => verify(decoy, password.slice(0, MAX_PASSWORD_LENGTH))).catch(() => false);
    return false;
  }
  return limited(() => verify(storedHash, password)).catch(() => false);
}
