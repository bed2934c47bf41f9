import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './api-types.ts';
import { accessToken, forgetSession, signIn } from './auth.ts';

export type { components, paths } from './api-types.ts';
/** The API's named shapes (User, UserGroup, App, …), generated from its OpenAPI document. */
export type Schemas = components['schemas'];

export interface FieldProblem {
  path: string;
  message: string;
}

/** An error answer from /api: `{code, message, details?}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: FieldProblem[];
  constructor(status: number, code: string, message: string, details: FieldProblem[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** How a client gets its access token and sends the person to sign in (the console's is ./auth.ts). */
export interface ApiAuth {
  /** The access token while it is valid, else undefined. */
  accessToken(): string | undefined;
  forgetSession(): void;
  /** Off to Gatehouse's sign-in page; never resolves. */
  signIn(): Promise<never>;
}

type QueryValue = string | number | boolean | undefined | null;

/** Leaves out what is unset or empty, as the server reads a missing parameter as "no filter". */
function serializeQuery(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query as Record<string, QueryValue>)) if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  return params.toString();
}

async function errorOf(response: Response): Promise<ApiError> {
  const data = (await response
    .clone()
    .json()
    .catch(() => null)) as { code?: string; message?: string; details?: FieldProblem[] } | null;
  return new ApiError(response.status, data?.code ?? 'request.failed', data?.message ?? `${response.status} ${response.statusText}`, data?.details ?? []);
}

/**
 * Sends the access token with every request. A missing or expired token, or a 401, sends the person
 * through sign-in again (straight back while their Gatehouse session lasts); any other error answer
 * is thrown as an ApiError, so a call that returns has succeeded.
 */
export function authMiddleware(auth: ApiAuth): Middleware {
  return {
    onRequest({ request }) {
      const token = auth.accessToken();
      if (!token) return auth.signIn();
      request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
    async onResponse({ response }) {
      if (response.status === 401) {
        auth.forgetSession();
        return auth.signIn();
      }
      if (!response.ok) throw await errorOf(response);
      return undefined;
    },
  };
}

export type ApiClient = Client<paths>;

/** A typed client of /api (the paths are the document's: `/api/users/{id}`), authenticated by `auth`. */
export function createApiClient(auth: ApiAuth): ApiClient {
  const client = createClient<paths>({ querySerializer: serializeQuery });
  client.use(authMiddleware(auth));
  return client;
}

/** The console's client: its access token, its sign-in. */
export const client: ApiClient = createApiClient({ accessToken, forgetSession, signIn: () => signIn() });

/**
 * The body of a successful answer: `await unwrap(client.GET('/api/users/{id}', { params: { path: { id } } }))`.
 * (Error answers have already been thrown as ApiError by the middleware; this also catches a client
 * made without it.)
 */
export async function unwrap<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, response } = await pending;
  if (!response.ok) throw await errorOf(response);
  return data as T;
}

type Query = Record<string, QueryValue>;

function withQuery(path: string, query?: Query): string {
  const search = query ? serializeQuery(query) : '';
  return search ? `${path}?${search}` : path;
}

/**
 * An untyped call under /api with the console's access token, for what the document does not
 * describe: the document itself (GET /openapi.json). Everything else goes through `client`.
 */
export async function request<T>(method: string, path: string, options: { body?: unknown; query?: Query } = {}): Promise<T> {
  const token = accessToken();
  if (!token) return signIn();
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const body = options.body === undefined ? {} : { body: JSON.stringify(options.body) };
  const response = await fetch(`/api${withQuery(path, options.query)}`, { method, headers, ...body });
  if (response.status === 401) {
    forgetSession();
    return signIn();
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json().catch(() => null)) as T;
}
