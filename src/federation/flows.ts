import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { deriveKey, seal, unseal } from '../oidc/secret-key.ts';
import type { Database } from '../storage/schema.ts';

/** A sign-in under way upstream: what the callback needs, kept server-side so the browser carries only `state`. */
export interface FederationFlow {
  /** The oidc-provider interaction the sign-in finishes. */
  interactionUid: string;
  providerId: string;
  nonce: string;
  codeVerifier: string;
  /** sha256 of the browser-binding cookie set when the flow began: a callback from another browser has none. */
  bindingHash: string;
  loginHint?: string | undefined;
}

/** As long as the person may take upstream (typing a password, MFA), well under the interaction's 30 minutes. */
export const FLOW_TTL_SECONDS = 15 * 60;

const epoch = () => Math.floor(Date.now() / 1000);
export const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * Rows keyed by a hash of the upstream `state`, payload sealed with a key derived from the secret:
 * a database reader learns neither the state nor the PKCE verifier. Each row is consumed once.
 */
export function createFlowStore(db: Kysely<Database>, secret: Buffer) {
  const key = deriveKey(secret, 'federation-flows');
  return {
    async begin(state: string, flow: FederationFlow): Promise<void> {
      await db.insertInto('federation_flows').values({ id: sha256(state), payload: seal(key, JSON.stringify(flow)), expires_at: epoch() + FLOW_TTL_SECONDS }).execute();
    },

    /** The flow for this state, deleted in the same statement: a replayed callback finds nothing. */
    async consume(state: string): Promise<FederationFlow | undefined> {
      if (!state || state.length > 512) return undefined;
      const row = await db.deleteFrom('federation_flows').where('id', '=', sha256(state)).returning(['payload', 'expires_at']).executeTakeFirst();
      if (!row || row.expires_at <= epoch()) return undefined;
      try {
        return JSON.parse(unseal(key, row.payload)) as FederationFlow;
      } catch {
        return undefined;
      }
    },

    async purgeExpired(): Promise<void> {
      await db.deleteFrom('federation_flows').where('expires_at', '<=', epoch()).execute();
    },
  };
}

export type FlowStore = ReturnType<typeof createFlowStore>;
