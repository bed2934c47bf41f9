/** A refusal the caller can act on: a stable dotted code, the HTTP status it maps to, and a message for people. */
export class DomainError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: readonly { path: string; message: string }[] | undefined;

  constructor(code: string, status: number, message: string, details?: readonly { path: string; message: string }[]) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

export const notFound = (kind: string, ref: string) => new DomainError(`${kind}.not_found`, 404, `No ${kind} matches "${ref}".`);
export const invalid = (code: string, message: string, path?: string) =>
  new DomainError(code, 400, message, path ? [{ path, message }] : undefined);
export const conflict = (code: string, message: string) => new DomainError(code, 409, message);
