/**
 * Builds the web apps (the user portal and the admin console, one Vite build) into web/dist. `npm install` runs it (the prepare script), so the
 * README's two commands are all the set-up there is; with --if-stale (npm start, the tests) it
 * builds only when a source is newer than the last build.
 */
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = import.meta.dirname;
const stamp = join(root, 'dist', '.built');

function newestSource(): number {
  const sources = [join(root, 'index.html'), join(root, 'vite.config.ts'), join(root, '..', 'package-lock.json')];
  // The console's page (admin/), the portal's code (portal/) and what both share (src/, public/).
  for (const dir of ['src', 'portal', 'admin', 'public']) {
    if (!existsSync(join(root, dir))) continue;
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
      if (entry.isFile()) sources.push(join(entry.parentPath, entry.name));
    }
  }
  return Math.max(...sources.filter((file) => existsSync(file)).map((file) => statSync(file).mtimeMs));
}

export async function buildConsole(options: { ifStale?: boolean } = {}): Promise<boolean> {
  if (options.ifStale && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource()) return false;
  // The stamp carries the time the build started: a source saved while it ran is newer, so the next
  // --if-stale builds again instead of keeping output that missed the change.
  const started = new Date();
  const { build } = await import('vite');
  await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
  return true;
}

if (import.meta.main) {
  const ifStale = process.argv.includes('--if-stale');
  const started = Date.now();
  if (await buildConsole({ ifStale })) process.stderr.write(`user portal and admin console built into web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
