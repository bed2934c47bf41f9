import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import '@mantine/dates/styles.css';
import { MantineProvider, createTheme } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Navigate, RouterProvider, createBrowserRouter } from 'react-router';
import { ConfirmProvider } from './components/confirm.tsx';
import { EmptyState } from './components/ui.tsx';
import { config } from './config.ts';
import { AppPage, AppsPage, NewAppPage } from './pages/apps.tsx';
import { AuditPage } from './pages/audit.tsx';
import { GroupPage, GroupsPage } from './pages/groups.tsx';
import { IdentityProviderPage, IdentityProvidersPage, NewIdentityProviderPage } from './pages/identity-providers.tsx';
import { AccessPoliciesPage } from './pages/policies.tsx';
import { RoutingPoliciesPage } from './pages/routing-policies.tsx';
import { SecurityPage } from './pages/security.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { Callback, SignedOut } from './pages/sign-in.tsx';
import { UserPage, UsersPage } from './pages/users.tsx';
import { SessionGate } from './session.tsx';
import { Shell } from './shell.tsx';

// The console signs in with redirect URIs at the issuer's origin: open it there.
const issuerOrigin = new URL(config.issuer).origin;
if (window.location.origin !== issuerOrigin) window.location.replace(`${issuerOrigin}${window.location.pathname}${window.location.search}`);

const theme = createTheme({
  primaryColor: 'blue',
  defaultRadius: 'md',
  // A badge's few words are its whole meaning: a squeezed table column must not cut them to "ACT…".
  components: { Badge: { styles: { root: { flexShrink: 0, overflow: 'visible' }, label: { overflow: 'visible' } } } },
});
const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } });

const router = createBrowserRouter(
  [
    { path: '/callback', element: <Callback /> },
    { path: '/signed-out', element: <SignedOut /> },
    {
      path: '/',
      element: (
        <SessionGate>
          <Shell />
        </SessionGate>
      ),
      children: [
        { index: true, element: <Navigate to="/users" replace /> },
        { path: 'users', element: <UsersPage /> },
        { path: 'users/:id', element: <UserPage /> },
        { path: 'groups', element: <GroupsPage /> },
        { path: 'groups/:id', element: <GroupPage /> },
        { path: 'apps', element: <AppsPage /> },
        { path: 'apps/new', element: <NewAppPage /> },
        { path: 'apps/:id', element: <AppPage /> },
        { path: 'identity-providers', element: <IdentityProvidersPage /> },
        { path: 'identity-providers/new', element: <NewIdentityProviderPage /> },
        { path: 'identity-providers/:id', element: <IdentityProviderPage /> },
        { path: 'routing-policies', element: <RoutingPoliciesPage /> },
        { path: 'policies', element: <AccessPoliciesPage /> },
        { path: 'security', element: <SecurityPage /> },
        { path: 'audit', element: <AuditPage /> },
        { path: 'settings', element: <SettingsPage /> },
        { path: '*', element: <EmptyState title="There is nothing at this address">Use the navigation on the left.</EmptyState> },
      ],
    },
  ],
  { basename: config.basePath },
);

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
