import { CONSOLE_PATH } from '../directory/console-app.ts';
import { CliFailure, type CommandSpec, hint } from './command.ts';
import { secretKeyBesideDatabase } from './secret-key-warning.ts';

type ServerModule = typeof import('../http/server.ts');

/** Imported on demand: the other commands never load the HTTP layer. */
async function loadServer(): Promise<ServerModule> {
  try {
    return await import('../http/server.ts');
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message?.includes('http/server.ts')) {
      throw new CliFailure('The HTTP server is not part of this installation (src/http/server.ts is missing).');
    }
    throw error;
  }
}

/** Resolves on the first SIGINT or SIGTERM; a second one falls through to Node's default and ends the process. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'Run Gatehouse: the OpenID Connect provider and its sign-in pages. Stops cleanly on SIGINT or SIGTERM.',
  configFlags: ['port', 'host', 'issuer'],
  async run(ctx) {
    const { startServer } = await loadServer();
    const runtime = await ctx.runtime();
    const users = await runtime.directory.users.list();
    const noAdministrator = !users.some((u) => u.role);
    const server = await startServer(runtime);
    const stopped = untilSignal();
    const { issuer } = runtime.config;
    const out = ctx.io.stdout;
    const keyWarning = secretKeyBesideDatabase(runtime.config);
    if (keyWarning) ctx.io.stderr.write(`${keyWarning}\n`);
    if (ctx.json) {
      out.write(`${JSON.stringify({ url: server.url, issuer, discovery_url: `${issuer}/.well-known/openid-configuration`, admin_console_url: `${issuer}${CONSOLE_PATH}/` })}\n`);
    } else {
      out.write(`Gatehouse listening on ${server.url} (issuer ${issuer})\n`);
      out.write(`Admin console: ${issuer}${CONSOLE_PATH}/\n`);
      if (users.length === 0) {
        out.write(`No users yet: create the first one with ${hint(ctx, 'users create --username USERNAME --email EMAIL --password-stdin --role administrator_with_billing')}\n`);
        out.write(`The role makes them the first administrator. API keys for the directory API (/api, documented at /api/docs) come from ${hint(ctx, 'api-keys create --owner USERNAME --name NAME')}\n`);
      } else if (noAdministrator) {
        out.write(`No administrator yet: make one with ${hint(ctx, 'users set-role USER administrator_with_billing')}\n`);
      }
    }
    const signal = await stopped;
    if (!ctx.json) ctx.io.stderr.write(`Received ${signal}, shutting down.\n`);
    await server.close();
  },
};
