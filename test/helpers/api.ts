/**
 * Calls the directory REST API of a running test Gatehouse (see gatehouse.ts) as a real client
 * would: HTTP, JSON, an API key in a header.
 */
import type { Role } from '../../src/directory/roles.ts';
import type { TestGatehouse } from './gatehouse.ts';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  key?: string | undefined;
  /** Send the key as `Authorization: Bearer` instead of `x-api-key`. */
  bearer?: boolean;
  headers?: Record<string, string>;
  /** A raw body (sent as is, with the given content type). */
  raw?: { contentType: string; data: string | Uint8Array };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
export async function call<T = any>(gatehouse: TestGatehouse, method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers = new Headers(options.headers);
  if (options.key) headers.set(options.bearer ? 'authorization' : 'x-api-key', options.bearer ? `Bearer ${options.key}` : options.key);
  let payload: string | Uint8Array | undefined;
  if (options.raw) {
    headers.set('content-type', options.raw.contentType);
    payload = options.raw.data;
  } else if (body !== undefined) {
    headers.set('content-type', 'application/json');
    payload = JSON.stringify(body);
  }
  const response = await fetch(`${gatehouse.issuer}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload as string }) });
  const text = await response.text();
  let parsed: unknown = text;
  if (response.headers.get('content-type')?.includes('json') && text) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

let counter = 0;

/** A new administrator with `role` and an API key of theirs (read_write unless asked otherwise). */
export async function adminKey(gatehouse: TestGatehouse, role: Role, options: { scope?: 'read_only' | 'read_write'; expires?: string } = {}) {
  counter += 1;
  const username = `${role.replaceAll('_', '-')}-${counter}-${Date.now().toString(36)}`;
  const user = await gatehouse.directory.users.create({ username, email: `${username}@admins.example.com`, role });
  const { apiKey, key } = await gatehouse.directory.apiKeys.create({ owner: user.id, name: `${role} key`, scope: options.scope, expires: options.expires });
  return { user, apiKey, key };
}
