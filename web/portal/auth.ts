import { createAuth } from '../src/auth.ts';
import { readConfig } from '../src/config.ts';

/** The portal signs in as its own built-in client (gatehouse-user-portal), with its own tokens in this tab. */
export const config = readConfig('portal');
export const auth = createAuth(config, 'portal');
