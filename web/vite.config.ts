import { join } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const root = import.meta.dirname;

/**
 * The dev server's SPA fallback would answer a console deep link (/admin/users/…) with the portal's
 * page at /index.html: send the console's own routes to its page, as Gatehouse does.
 */
const consoleRoutes: Plugin = {
  name: 'gatehouse-console-routes',
  configureServer(server) {
    server.middlewares.use((request, _response, next) => {
      const path = request.url?.split('?')[0] ?? '';
      if (path === '/admin' || (path.startsWith('/admin/') && !path.slice('/admin/'.length).includes('.'))) request.url = '/admin/index.html';
      next();
    });
  },
};

/**
 * Two single-page apps from one build, sharing their chunks (React, Mantine, the API client): the
 * user portal (web/index.html, served at the issuer's root) and the admin console (web/admin/index.html,
 * served at /admin). dist/ mirrors the URLs: dist/index.html, dist/admin/index.html, dist/assets/…
 * (src/http/routes/web-apps.ts serves them).
 */
export default defineConfig({
  root,
  base: '/',
  plugins: [react(), consoleRoutes],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
    rolldownOptions: {
      input: { portal: join(root, 'index.html'), admin: join(root, 'admin', 'index.html') },
    },
  },
  server: {
    // `npx vite web` for work on the portal (/) and the console (/admin/): the API and sign-in come from a Gatehouse on :9000.
    proxy: Object.fromEntries(['/api', '/oauth2', '/interaction', '/.well-known', '/userinfo'].map((path) => [path, 'http://localhost:9000'])),
  },
});
