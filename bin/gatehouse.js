#!/usr/bin/env node
// Gatehouse is TypeScript run by Node 24's type stripping. This file is plain JavaScript that any
// Node can parse, so that an older Node gets a way forward instead of ERR_UNKNOWN_FILE_EXTENSION:
// it hands over to the Node 24 that `npm install` puts in node_modules (the `node` package, a
// dependency), or, when there is none, says in one line what to do.
const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);

if (major >= REQUIRED_MAJOR) {
  // Node keeps the compiled (and type-stripped) modules in a cache directory (the system's temp dir,
  // or NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off): every later start, each CLI
  // command included, then loads the code in about half the CPU time. A cache it can't write is ignored.
  const { enableCompileCache } = await import('node:module');
  enableCompileCache?.();
  // Dynamic, so that an old Node never even resolves the .ts file.
  await import('../src/cli/main.ts');
} else {
  const { spawn, spawnSync } = await import('node:child_process');
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');

  /** The `node` package's binary, if it is installed and really is Node 24 or newer. */
  function bundledNode() {
    let binary;
    try {
      binary = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
    } catch {
      return undefined;
    }
    const probe = spawnSync(binary, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    return probe.status === 0 && Number(probe.stdout.split('.')[0]) >= REQUIRED_MAJOR ? binary : undefined;
  }

  const binary = bundledNode();
  if (!binary) {
    process.stderr.write(
      `gatehouse: needs Node.js ${REQUIRED_MAJOR} or newer (this is ${process.version}); run \`npm install\` in the Gatehouse folder (it fetches Node ${REQUIRED_MAJOR}) and use \`npm start\` / \`npx gatehouse\`, or install Node ${REQUIRED_MAJOR}\n`,
    );
    process.exit(2);
  }
  const child = spawn(binary, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child shares our terminal (Ctrl-C reaches both); a signal sent to us alone is passed on.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code ?? 1);
    // End the way the child ended, so that callers see the same signal.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}
