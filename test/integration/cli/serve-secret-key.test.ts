/**
 * `gatehouse serve` warns, in one line on stderr, when the secret key file sits beside the SQLite
 * database on a server others use: a copy of the data directory would then hold both the sealed
 * data and the key that opens it. Not on a loopback issuer (a developer's machine) and not when
 * GATEHOUSE_SECRET_KEY keeps the key elsewhere.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts `serve --port 0` in a fresh data directory, waits until it listens, stops it; its output. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-serve-'));
  dirs.push(dataDir);
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GATEHOUSE_')));
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, ...args], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/^Gatehouse listening on /m.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, `serve stopped cleanly: ${stderr}`);
  assert.match(stdout, /^Gatehouse listening on /m, stderr);
  return { stdout, stderr, dataDir };
}

const warningLines = (stderr: string) => stderr.split('\n').filter((line) => /secret key/i.test(line));

test('serve warns once when the key file sits beside the database on a public issuer', { timeout: 30_000 }, async () => {
  const { stdout, stderr, dataDir } = await serve(['--issuer', 'https://id.example.com']);
  const lines = warningLines(stderr);
  assert.equal(lines.length, 1, `one warning line: ${stderr}`);
  assert.ok(lines[0]?.includes(join(dataDir, 'secret.key')), `names the key file: ${lines[0]}`);
  assert.match(lines[0] ?? '', /GATEHOUSE_SECRET_KEY/, 'says what to do');
  assert.ok(!/secret key/i.test(stdout), 'on stderr, not stdout');
});

test('no warning when GATEHOUSE_SECRET_KEY keeps the key elsewhere', { timeout: 30_000 }, async () => {
  const { stderr } = await serve(['--issuer', 'https://id.example.com'], { GATEHOUSE_SECRET_KEY: 'a-secret-kept-in-the-environment-0123456789' });
  assert.deepEqual(warningLines(stderr), []);
});

test('no warning on a loopback issuer', { timeout: 30_000 }, async () => {
  for (const issuer of ['http://localhost:9000', 'http://127.0.0.1:9000']) {
    const { stderr } = await serve(['--issuer', issuer]);
    assert.deepEqual(warningLines(stderr), [], issuer);
  }
});
