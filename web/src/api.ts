import { accessToken, forgetSession, signIn } from './auth.ts';

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

type Query = Record<string, string | number | boolean | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/**
 * Calls the directory API with the console's access token. An expired or refused token sends the
 * person through sign-in again (straight back while their Gatehouse session lasts).
 */
export async function request<T>(method: string, path: string, options: { body?: unknown; file?: Blob; query?: Query; raw?: boolean } = {}): Promise<T> {
  const token = accessToken();
  if (!token) return signIn();
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body: BodyInit | undefined;
  if (options.file) {
    headers['content-type'] = options.file.type;
    body = options.file;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`/api${withQuery(path, options.query)}`, { method, headers, ...(body === undefined ? {} : { body }) });
  if (response.status === 401) {
    forgetSession();
    return signIn();
  }
  if (response.ok && options.raw) return response as T;
  if (response.status === 204) return undefined as T;
  const data = (await response.json().catch(() => null)) as { code?: string; message?: string; details?: FieldProblem[] } | null;
  if (!response.ok) throw new ApiError(response.status, data?.code ?? 'request.failed', data?.message ?? `${response.status} ${response.statusText}`, data?.details ?? []);
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', path, query ? { query } : {}),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body === undefined ? {} : { body }),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body === undefined ? {} : { body }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
  /** Sends a file as the body, with its own content type (an app icon). */
  upload: <T>(path: string, file: Blob) => request<T>('PUT', path, { file }),
  /** The raw response (an icon, say). */
  blob: async (path: string): Promise<Blob> => (await request<Response>('GET', path, { raw: true })).blob(),
};
