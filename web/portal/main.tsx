import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import './portal.css';
import { MantineProvider, createTheme } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider, createBrowserRouter } from 'react-router';
import { ConfirmProvider } from '../src/components/confirm.tsx';
import { EmptyState } from '../src/components/ui.tsx';
import { config } from './auth.ts';
import { AppsPage } from './pages/apps.tsx';
import { ProfilePage } from './pages/profile.tsx';
import { SecurityPage } from './pages/security.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { Callback, SignedOut } from './pages/sign-in.tsx';
import { PortalGate } from './session.tsx';
import { Shell } from './shell.tsx';

// The portal signs in with redirect URIs at the issuer's origin: open it there.
const issuerOrigin = new URL(config.issuer).origin;
if (window.location.origin !== issuerOrigin) window.location.replace(`${issuerOrigin}${window.location.pathname}${window.location.search}`);

// The console's look (web/src/main.tsx), with filled buttons dark enough for white text (WCAG AA).
const theme = createTheme({
  primaryColor: 'blue',
  primaryShade: { light: 8, dark: 8 },
  defaultRadius: 'md',
  components: {
    Badge: { styles: { root: { flexShrink: 0, overflow: 'visible' }, label: { overflow: 'visible' } } },
    // Icon-only close buttons need a name for screen readers.
    Notification: { defaultProps: { closeButtonProps: { 'aria-label': 'Dismiss' } } },
    Modal: { defaultProps: { closeButtonProps: { 'aria-label': 'Close' } } },
  },
});
const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } });

// The server answers only these paths with the portal (src/http/routes/web-apps.ts PORTAL_PATHS).
const router = createBrowserRouter([
  { path: '/callback', element: <Callback /> },
  { path: '/signed-out', element: <SignedOut /> },
  {
    path: '/',
    element: (
      <PortalGate>
        <Shell />
      </PortalGate>
    ),
    children: [
      { index: true, element: <AppsPage /> },
      { path: 'profile', element: <ProfilePage /> },
      { path: 'security', element: <SecurityPage /> },
      { path: 'sessions', element: <SessionsPage /> },
      { path: '*', element: <EmptyState title="There is nothing at this address">Use the navigation to find your apps, profile, security and sessions.</EmptyState> },
    ],
  },
]);

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <MantineProvider theme={theme}>
        <QueryClientProvider client={queryClient}>
          <ConfirmProvider>
            <Notifications position="bottom-right" />
            <RouterProvider router={router} />
          </ConfirmProvider>
        </QueryClientProvider>
      </MantineProvider>
    </StrictMode>,
  );
}
