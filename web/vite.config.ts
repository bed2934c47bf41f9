import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by Gatehouse at /admin (src/http/routes/console.ts), from web/dist.
export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
  server: {
    // `npx vite web` for work on the console: the API and sign-in come from a Gatehouse on :9000.
    proxy: Object.fromEntries(['/api', '/oauth2', '/interaction', '/.well-known', '/userinfo'].map((path) => [path, 'http://localhost:9000'])),
  },
});
