import { Secret, TOTP } from 'otpauth';

/**
 * TOTP as RFC 6238 and every authenticator app expect it: SHA-1, 6 digits, 30-second steps. A code is
 * accepted one step either side of now (clocks drift); which step it matched is returned so that the
 * caller can refuse that step, and every earlier one, from then on (no replay within the window).
 */
export const TOTP_PERIOD_SECONDS = 30;
const DIGITS = 6;
const WINDOW = 1;

function totp(secretBase32: string, label = '', issuer = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secretBase32) });
}

/** A new shared secret: 160 bits, as RFC 4226 recommends, in base32 for typing into an app by hand. */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The `otpauth://` URI an authenticator app reads from the enrolment QR code. */
export const totpUri = (secretBase32: string, options: { issuer: string; label: string }): string => totp(secretBase32, options.label, options.issuer).toString();

/** The time step a code belongs to, if it is right for now ± one step; undefined otherwise. */
export function matchingStep(secretBase32: string, code: string, now: number): number | undefined {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  const delta = totp(secretBase32).validate({ token, timestamp: now, window: WINDOW });
  return delta === null ? undefined : Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

/** The code for a moment (enrolment tests and the bench compute codes as an app would). */
export const totpCode = (secretBase32: string, now: number): string => totp(secretBase32).generate({ timestamp: now });
