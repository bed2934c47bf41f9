import { randomBytes } from 'node:crypto';

/** 24 lowercase hex characters, the shape of JumpCloud's object ids, which directory-sync clients expect. */
export const newObjectId = (): string => randomBytes(12).toString('hex');
export const isObjectId = (value: string): boolean => /^[0-9a-f]{24}$/.test(value);
export const nowIso = (): string => new Date().toISOString();
