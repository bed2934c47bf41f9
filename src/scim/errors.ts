import { DomainError } from '../directory/errors.ts';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7644 §3.12's scimType values (those a 400 or 409 may carry). */
export type ScimType = 'invalidFilter' | 'tooMany' | 'uniqueness' | 'mutability' | 'invalidSyntax' | 'invalidPath' | 'noTarget' | 'invalidValue' | 'invalidVers' | 'sensitive';

/** A refusal in SCIM's terms: an HTTP status, an optional scimType and a detail for people. */
export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType | undefined;

  constructor(status: number, detail: string, scimType?: ScimType) {
    super(detail);
    this.name = 'ScimError';
    this.status = status;
    this.scimType = scimType;
  }
}

export const invalidValue = (detail: string) => new ScimError(400, detail, 'invalidValue');
export const invalidSyntax = (detail: string) => new ScimError(400, detail, 'invalidSyntax');
export const invalidFilter = (detail: string) => new ScimError(400, detail, 'invalidFilter');
export const invalidPath = (detail: string) => new ScimError(400, detail, 'invalidPath');
export const noTarget = (detail: string) => new ScimError(400, detail, 'noTarget');
export const mutability = (detail: string) => new ScimError(400, detail, 'mutability');
export const uniqueness = (detail: string) => new ScimError(409, detail, 'uniqueness');
export const resourceNotFound = (kind: 'User' | 'Group', id: string) => new ScimError(404, `No ${kind} has the id "${id}".`);

/** Domain codes that mean "already taken": SCIM's uniqueness. */
const TAKEN = new Set(['user.username_taken', 'user.email_taken', 'group.name_taken']);

/**
 * Any error as a SCIM one: the domain's refusals keep their status (and their message, which is
 * written for people), unknown errors are a 500 that says nothing of the cause.
 */
export function toScimError(error: unknown): ScimError {
  if (error instanceof ScimError) return error;
  if (error instanceof DomainError) {
    if (TAKEN.has(error.code)) return uniqueness(error.message);
    if (error.status === 400) return invalidValue(error.message);
    return new ScimError(error.status, error.message);
  }
  return new ScimError(500, 'Something went wrong on our side.');
}

/** The body of an error response (RFC 7644 §3.12): `status` is a string there. */
export function errorBody(error: ScimError): Record<string, unknown> {
  return { schemas: [ERROR_SCHEMA], status: String(error.status), ...(error.scimType ? { scimType: error.scimType } : {}), detail: error.message };
}
