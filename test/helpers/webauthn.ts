/**
 * WebAuthn in Chromium: Gatehouse at http://localhost:<port> (WebAuthn needs a secure context and a
 * domain as RP ID, which an IP address is not; localhost is both), and browser profiles with one
 * virtual authenticator each (CDP WebAuthn domain, through playwright-core).
 */
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { startServer } from '../../src/http/server.ts';
import { openRuntime } from '../../src/runtime.ts';
import type { Chromium } from './chromium.ts';
import { type DatabaseKind, freshConfig } from './databases.ts';
import type { TestGatehouse } from './gatehouse.ts';
import { freePort } from './net.ts';

/** Gatehouse on a loopback port, named localhost. */
export async function startLocalhostGatehouse(kind: DatabaseKind): Promise<TestGatehouse> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const { config, cleanup } = await freshConfig(kind, { issuer, port, host: '127.0.0.1' });
  const runtime = await openRuntime(config);
  const server = await startServer(runtime, { logLevel: 'warn' });
  const close = async () => {
    await server.close();
    await runtime.close();
    await cleanup();
  };
  return { issuer, runtime, directory: runtime.directory, stop: close, restart: () => Promise.reject(new Error('not here')), close };
}

export interface Authenticator {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
}

/**
 * A browser profile with one virtual authenticator: a platform passkey provider (resident keys, user
 * verification) or a USB security key (neither).
 */
export async function withAuthenticator(chromium: Chromium, kind: 'platform' | 'security-key', viewport?: { width: number; height: number }): Promise<Authenticator> {
  const context = await chromium.newContext(viewport);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options:
      kind === 'platform'
        ? { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
        : { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false, automaticPresenceSimulation: true },
  });
  return { context, page, cdp, authenticatorId };
}
