import { resolve } from 'node:path';

/** Every option, its environment variable and its default: the README's configuration table mirrors this. */
export const OPTIONS = {
  dataDir: { flag: '--data-dir', env: 'GATEHOUSE_DATA_DIR', default: './data', description: 'Directory holding the SQLite database and the secret key file.' },
  databaseUrl: { flag: undefined, env: 'GATEHOUSE_DATABASE_URL', default: undefined, description: 'postgres://… to store everything in PostgreSQL instead of SQLite.' },
  issuer: { flag: '--issuer', env: 'GATEHOUSE_ISSUER', default: 'http://localhost:9000', description: 'Public base URL of Gatehouse; the OIDC issuer identifier.' },
  port: { flag: '--port', env: 'GATEHOUSE_PORT', default: '9000', description: 'TCP port to listen on.' },
  host: { flag: '--host', env: 'GATEHOUSE_HOST', default: '127.0.0.1', description: 'Address to listen on.' },
  secretKey: { flag: undefined, env: 'GATEHOUSE_SECRET_KEY', default: undefined, description: 'Key that encrypts signing keys and cookies at rest (32+ characters); else a generated file in the data directory.' },
  trustProxy: {
    flag: undefined,
    env: 'GATEHOUSE_TRUST_PROXY',
    default: 'false',
    description:
      'Which reverse proxies to believe about the client address (X-Forwarded-For): false (none), a hop count (1, 2…; true means 1), or a comma-separated list of proxy addresses or CIDR ranges (loopback, linklocal and uniquelocal name those ranges).',
  },
} as const;

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  issuer: string;
  port: number;
  host: string;
  secretKey: string | undefined;
  trustProxy: TrustProxy;
}

/**
 * Which proxies' X-Forwarded-For entries are believed: none (false), the nearest N hops, or the
 * proxies at these addresses/CIDR ranges. The client address is the one the last trusted proxy saw.
 */
export type TrustProxy = false | number | string[];

export class ConfigError extends Error {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.name = 'ConfigError';
    this.option = option;
  }
}

type Flags = Partial<Record<'dataDir' | 'issuer' | 'port' | 'host', string | undefined>>;

/** Flags beat environment variables, which beat defaults. Errors name the option (flag and variable). */
export function loadConfig(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (key: keyof typeof OPTIONS): string | undefined =>
    (flags as Record<string, string | undefined>)[key] ?? env[OPTIONS[key].env] ?? OPTIONS[key].default;
  const name = (key: keyof typeof OPTIONS) => [OPTIONS[key].flag, OPTIONS[key].env].filter(Boolean).join(' / ');

  const portText = pick('port') ?? '';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError(name('port'), `"${portText}" is not a port number (0-65535)`);

  // Unset, the issuer follows the port, so that `serve --port 9100` works without also naming the issuer.
  const explicitIssuer = flags.issuer ?? env[OPTIONS.issuer.env];
  const issuer = explicitIssuer || (port === 9000 || port === 0 ? OPTIONS.issuer.default : `http://localhost:${port}`);
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new ConfigError(name('issuer'), `"${issuer}" is not an absolute URL`);
  }
  if (!['http:', 'https:'].includes(issuerUrl.protocol) || issuerUrl.search || issuerUrl.hash) {
    throw new ConfigError(name('issuer'), 'must be an http(s) URL without query or fragment');
  }

  const databaseUrl = pick('databaseUrl') || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(name('databaseUrl'), 'must start with postgres:// (leave it unset for the embedded SQLite database)');
  }
  // Checked here, so that the driver's bare "Invalid URL" never surfaces; the value itself (it may hold a password) is never echoed.
  if (databaseUrl && !URL.canParse(databaseUrl)) {
    throw new ConfigError(name('databaseUrl'), 'is not a valid URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE; a port is a number, special characters in the password are %-encoded)');
  }
  const secretKey = pick('secretKey') || undefined;
  if (secretKey !== undefined && secretKey.length < 32) throw new ConfigError(name('secretKey'), 'must have at least 32 characters');
  const trustProxy = parseTrustProxy(pick('trustProxy') ?? 'false', name('trustProxy'));

  return {
    dataDir: resolve(pick('dataDir') ?? './data'),
    databaseUrl,
    // Without a trailing slash, so that endpoint URLs join cleanly; the issuer identifier is this string.
    issuer: issuer.replace(/\/+$/, ''),
    port,
    host: pick('host') ?? '127.0.0.1',
    secretKey,
    trustProxy,
  };
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** An address or CIDR range as proxy-addr understands it (an IPv4 range may also be a dotted mask). */
function validProxyAddress(entry: string): boolean {
  if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') return true;
  const [address = '', range, ...rest] = entry.split('/');
  if (rest.length) return false;
  const v4 = IPV4.test(address);
  // URL's parser validates IPv6 literals without resolving anything.
  const v6 = !v4 && address.includes(':') && URL.canParse(`http://[${address}]/`);
  if (!v4 && !v6) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (v4 ? 32 : 128);
  return v4 && IPV4.test(range);
}

/** `true` is kept, meaning one hop, for configurations written when the option was a boolean. */
export function parseTrustProxy(text: string, option: string): TrustProxy {
  const value = text.trim().toLowerCase();
  if (value === 'false' || value === '0' || value === '') return false;
  if (value === 'true') return 1;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 32) throw new ConfigError(option, `${hops} proxy hops is not plausible (use 1 for one reverse proxy)`);
    return hops;
  }
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  const invalid = entries.find((entry) => !validProxyAddress(entry));
  if (invalid !== undefined || !entries.length) {
    throw new ConfigError(option, `"${invalid ?? text}" is not valid: use false, a hop count (1, 2…), or a comma-separated list of proxy IP addresses or CIDR ranges (10.0.0.0/8, 2001:db8::/32)`);
  }
  return entries;
}
