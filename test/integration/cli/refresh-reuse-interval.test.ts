/**
 * `gatehouse apps create --refresh-token-reuse-interval`, end to end with the real bin/gatehouse.js
 * on a real SQLite data directory: accepted from 0s to 60s and shown by `apps show`; anything else
 * refused with one line and no app created.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-reuse-'));
const env: Record<string, string> = {};
for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('GATEHOUSE_') && value !== undefined) env[name] = value;

function gh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args, '--data-dir', dataDir], { env, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

const create = (label: string, ...extra: string[]) => gh(['apps', 'create', '--label', label, '--redirect-uri', 'https://app.example.com/cb', '--refresh-token', ...extra]);

before(async () => {
  assert.equal((await gh(['init'])).code, 0);
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('apps create takes a reuse interval of 0s to 60s; apps show prints it', async () => {
  const created = await create('Tabs', '--refresh-token-reuse-interval', '10s', '--json');
  assert.equal(created.code, 0, created.stderr);
  assert.equal(JSON.parse(created.stdout).app.refresh_token_reuse_interval, 10);
  const shown = await gh(['apps', 'show', 'Tabs']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /refresh reuse\s+within 10s of a rotation/);

  for (const [value, seconds] of [['1m', 60], ['0', 0], ['45', 45]] as const) {
    const result = await create(`Tabs ${value}`, '--refresh-token-reuse-interval', value, '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).app.refresh_token_reuse_interval, seconds);
  }
  const strict = await create('Strict', '--json');
  assert.equal(JSON.parse(strict.stdout).app.refresh_token_reuse_interval, 0);
  assert.match((await gh(['apps', 'show', 'Strict'])).stdout, /refresh reuse\s+none \(reuse revokes the grant\)/);
});

test('an interval over 60 seconds or negative is refused with one line, and no app is created', async () => {
  for (const [value, code, pattern] of [
    ['61s', 1, /reuse interval is a whole number of seconds from 0 to 60/],
    ['2m', 1, /reuse interval is a whole number of seconds from 0 to 60/],
    ['-5s', 2, /--refresh-token-reuse-interval expects a duration/],
    ['soon', 2, /--refresh-token-reuse-interval expects a duration/],
  ] as const) {
    const result = await create(`Bad ${value}`, `--refresh-token-reuse-interval=${value}`);
    assert.equal(result.code, code, `${value}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^gatehouse: [^\n]+\n$/);
    assert.match(result.stderr, pattern);
    assert.equal((await gh(['apps', 'show', `Bad ${value}`])).code, 1, `no app "Bad ${value}"`);
  }
});
