import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { invalid } from './errors.ts';

const requireLazily = createRequire(import.meta.url);

// Algorithm is an ambient const enum, which type stripping can't read: 2 is its Argon2id member.
const ARGON2ID = 2 as Algorithm;

/**
 * OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). The napi functions run on libuv's
 * thread pool, so hashing never blocks the event loop that serves tokens.
 */
export const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** The lowest minimum length an organisation may choose (NIST SP 800-63B's floor). */
export const MIN_PASSWORD_LENGTH = 8;
/** The default minimum length (issue 12: 12 characters, as Okta, JumpCloud and Keycloak deployments advise). */
export const DEFAULT_PASSWORD_MIN_LENGTH = 12;
/** The highest minimum length an organisation may choose. */
export const MAX_PASSWORD_MIN_LENGTH = 64;
export const MAX_PASSWORD_LENGTH = 1024;

/** The organisation's rules for new passwords (settings), as every password set applies them. */
export interface PasswordPolicy {
  minLength: number;
  rejectCommon: boolean;
  rejectPersonal: boolean;
}

/** Whose password it is: it may not contain their username or email. */
export interface PasswordOwner {
  username: string;
  email: string;
}

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

/**
 * The most common passwords, from @zxcvbn-ts/language-common (MIT; its `passwords-common`
 * dictionary: about 49,000 passwords ranked by how often they appear in published breaches, all
 * lower case), shipped with Gatehouse as an npm dependency. Built once into a Set on first use, so
 * that each lookup is a hash lookup, whatever the list's size.
 */
let commonPasswords: ReadonlySet<string> | undefined;
function commonPasswordSet(): ReadonlySet<string> {
  // Loaded on first use, not at import: unpacking the dictionaries costs every CLI command and every
  // server start about 0.1 s of CPU, and most never set a password.
  commonPasswords ??= new Set(
    (requireLazily('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common')).dictionary['passwords-common'].map((password) =>
      password.toLowerCase(),
    ),
  );
  return commonPasswords;
}

/** Whether the password is on the common-passwords list, in any case (Password1 is password1). */
export const isCommonPassword = (password: string): boolean => commonPasswordSet().has(password.toLowerCase());

/** How many passwords the common-passwords list holds. */
export const commonPasswordCount = (): number => commonPasswordSet().size;

// Where usernames and emails split into parts (as Active Directory and Okta split them).
const NAME_SEPARATORS = /[\s.,_+#@-]+/u;
const MIN_PERSONAL_PART = 3;

/**
 * The parts of a person's names that their password may not contain: the username, the email,
 * the email's local part, and the pieces those split into at . _ - + @ and the like. Parts shorter
 * than three characters are left out (they would refuse half the dictionary); the email's domain
 * is left out too (it is the whole organisation's, and "com" is in "computer").
 */
export function personalParts(owner: PasswordOwner): string[] {
  const username = owner.username.trim().toLowerCase();
  const email = owner.email.trim().toLowerCase();
  const localPart = email.includes('@') ? email.slice(0, email.lastIndexOf('@')) : email;
  const parts = new Set([username, email, localPart, ...username.split(NAME_SEPARATORS), ...localPart.split(NAME_SEPARATORS)]);
  return [...parts].filter((part) => part.length >= MIN_PERSONAL_PART);
}

/**
 * The organisation's rules for a new password, each refusal with its own code and a message that
 * names the rule (never the password): blank, too short, too long, common, personal.
 */
export function checkPasswordRules(password: string, policy: PasswordPolicy, owner: PasswordOwner): void {
  if (isBlankPassword(password)) {
    throw invalid('user.password_blank', 'A password cannot consist only of spaces or other blank characters.', 'password');
  }
  if (password.length < policy.minLength) {
    throw invalid('user.password_too_short', `Passwords need at least ${policy.minLength} characters.`, 'password');
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw invalid('user.password_too_long', `Passwords may have at most ${MAX_PASSWORD_LENGTH} characters.`, 'password');
  }
  if (policy.rejectCommon && isCommonPassword(password)) {
    throw invalid('user.password_common', 'This password is on the list of the most commonly used passwords, which attackers try first. Choose another.', 'password');
  }
  if (policy.rejectPersonal) {
    const lower = password.toLowerCase();
    if (personalParts(owner).some((part) => lower.includes(part))) {
      throw invalid('user.password_personal', "Passwords may not contain the person's username or email address, nor a part of them.", 'password');
    }
  }
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
