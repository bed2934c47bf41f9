import assert from 'node:assert/strict';
import { DomainError } from '../../src/directory/errors.ts';

/** Asserts that `promise` rejects with a DomainError of that code and status, and returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<DomainError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof DomainError, `expected a DomainError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.status, status);
  return caught;
}

let serial = 0;
/** Unique names per test, so that tests can share one database. */
export const unique = (prefix: string): string => `${prefix}${process.pid}x${++serial}`;
