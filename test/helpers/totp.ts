import { TOTP_PERIOD_SECONDS } from '../../src/authn/totp.ts';

/** One TOTP time step, in milliseconds. */
export const TOTP_PERIOD_MS = TOTP_PERIOD_SECONDS * 1000;

/**
 * Waits (at most a few seconds) until `margin` ms of the current 30-second step remain, so that codes
 * of steps S-1..S+1 stay valid through a test; returns the start of step S. Real time, since the
 * server checks codes against its own clock.
 */
export async function freshTotpStep(margin = 12_000): Promise<number> {
  const left = TOTP_PERIOD_MS - (Date.now() % TOTP_PERIOD_MS);
  if (left < margin) await new Promise((resolve) => setTimeout(resolve, left + 50));
  return Math.floor(Date.now() / TOTP_PERIOD_MS) * TOTP_PERIOD_MS;
}
