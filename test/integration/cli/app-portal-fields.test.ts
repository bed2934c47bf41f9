/**
 * `gatehouse apps create` with the user-portal settings (issue 11 §3), spawning the real
 * bin/gatehouse.js against a fresh SQLite data directory: defaults with and without --login-url,
 * --show-in-portal/--no-show-in-portal, --send-iss/--no-send-iss and --description; `apps show`
 * prints them; contradicting flags and a refused description create nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const tempDirs: string[] = [];
let dataDir = '';
const env: Record<string, string> = {};

function gh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args, '--data-dir', dataDir], { env, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end('');
  });
}

async function ok(args: string[]): Promise<string> {
  const result = await gh(args);
  assert.equal(result.code, 0, `gatehouse ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed command output, checked field by field
const okJson = async (args: string[]): Promise<any> => JSON.parse(await ok([...args, '--json']));

async function refused(args: string[], code: number, pattern: RegExp): Promise<void> {
  const result = await gh(args);
  assert.equal(result.code, code, `gatehouse ${args.join(' ')}: exit ${result.code}, stderr ${result.stderr}`);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^gatehouse: [^\n]+\n$/);
  assert.match(result.stderr, pattern);
}

const portalFields = (app: Record<string, unknown>) => ({ show_in_portal: app.show_in_portal, description: app.description, send_iss_on_launch: app.send_iss_on_launch });
const appLabels = async () => ((await okJson(['apps', 'list'])) as { label: string }[]).map((a) => a.label).sort();

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-portal-'));
  tempDirs.push(dir);
  dataDir = dir;
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && value !== undefined) env[key] = value;
  await ok(['init']);
});
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

test('apps create: shown in the portal by default (once there is a login URL); explicit flags win; apps show prints them', async () => {
  const withLogin = await okJson(['apps', 'create', '--label', 'Wiki', '--redirect-uri', 'https://wiki.example.com/cb', '--login-url', 'https://wiki.example.com/login']);
  assert.deepEqual(portalFields(withLogin.app), { show_in_portal: true, description: '', send_iss_on_launch: true });
  const withoutLogin = await okJson(['apps', 'create', '--label', 'Api', '--redirect-uri', 'https://api.example.com/cb']);
  assert.deepEqual(portalFields(withoutLogin.app), { show_in_portal: true, description: '', send_iss_on_launch: true });

  const explicit = await okJson([
    'apps', 'create', '--label', 'Chat', '--redirect-uri', 'https://chat.example.com/cb', '--login-url', 'https://chat.example.com/login',
    '--no-show-in-portal', '--no-send-iss', '--description', 'Team chat',
  ]);
  assert.deepEqual(portalFields(explicit.app), { show_in_portal: false, description: 'Team chat', send_iss_on_launch: false });
  const shown = await okJson(['apps', 'create', '--label', 'Later', '--redirect-uri', 'https://later.example.com/cb', '--show-in-portal', '--send-iss']);
  assert.deepEqual(portalFields(shown.app), { show_in_portal: true, description: '', send_iss_on_launch: true });

  const chat = await ok(['apps', 'show', 'Chat']);
  assert.match(chat, /^description\s+Team chat$/m);
  assert.match(chat, /^user portal\s+hidden$/m);
  assert.match(chat, /^launch sends iss\s+no$/m);
  const wiki = await ok(['apps', 'show', 'Wiki']);
  assert.match(wiki, /^user portal\s+shown$/m);
  assert.match(wiki, /^launch sends iss\s+yes$/m);
  assert.match(await ok(['apps', 'show', 'Later']), /^user portal\s+shown once a login URL is set$/m);
  assert.deepEqual(portalFields(await okJson(['apps', 'show', 'Chat'])), portalFields(explicit.app));
});

test('apps create refuses contradicting flags and a bad description, and creates nothing', async () => {
  const before = await appLabels();
  const base = ['apps', 'create', '--label', 'Refused', '--redirect-uri', 'https://refused.example.com/cb'];
  await refused([...base, '--show-in-portal', '--no-show-in-portal'], 2, /--show-in-portal and --no-show-in-portal contradict each other/);
  await refused([...base, '--send-iss', '--no-send-iss'], 2, /--send-iss and --no-send-iss contradict each other/);
  await refused([...base, '--description', 'x'.repeat(501)], 1, /at most 500 characters/);
  await refused([...base, '--description', 'two\nlines'], 1, /control characters/);
  assert.deepEqual(await appLabels(), before);
});
