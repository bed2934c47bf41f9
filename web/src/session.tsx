import { Button, Center, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect } from 'react';
import { ApiError, client, unwrap } from './api.ts';
import { accessToken, signIn, signOut } from './auth.ts';
import { config } from './config.ts';
import type { Me, Permission } from './types.ts';

interface SessionValue {
  me: Me;
  /** Whether the signed-in administrator's role allows it: write controls are shown only then. */
  can: (permission: Permission) => boolean;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function useSession(): SessionValue {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside <SessionGate>');
  return session;
}

export const useCan = (permission: Permission): boolean => useSession().can(permission);

export function FullPageMessage({ title, children, action }: { title: string; children: ReactNode; action?: ReactNode }) {
  return (
    <Center mih="100vh" p="md">
      <Stack maw={460} gap="sm" align="flex-start">
        <Text fw={700} c="blue.8">
          Gatehouse Admin
        </Text>
        <Title order={1} size="h2">
          {title}
        </Title>
        <Text c="dimmed">{children}</Text>
        {action}
      </Stack>
    </Center>
  );
}

/** Not a dead end: everyone who may sign in has the user portal, with their own apps. */
export function NoAccess({ message }: { message?: string }) {
  return (
    <FullPageMessage
      title="You don't have access to the admin console"
      action={
        <Group gap="sm">
          <Button component="a" href={`${config.issuer}/`}>
            Go to your apps
          </Button>
          <Button onClick={() => void signOut()} variant="light">
            Sign out and use another account
          </Button>
        </Group>
      }
    >
      {message ?? 'Only people with an administrator role can use the admin console. Your own apps are in the user portal; ask an administrator if you need a role.'}
    </FullPageMessage>
  );
}

/** Everything inside needs a signed-in administrator: sign in first, then learn who they are and what they may do. */
export function SessionGate({ children }: { children: ReactNode }) {
  const token = accessToken();
  useEffect(() => {
    if (!token) void signIn();
  }, [token]);
  const me = useQuery({ queryKey: ['me'], queryFn: () => unwrap(client.GET('/api/me')), enabled: Boolean(token), staleTime: 60_000, retry: false });
  if (!token || me.isPending) {
    return (
      <Center mih="100vh">
        <Loader aria-label="Signing in" />
      </Center>
    );
  }
  if (me.error) {
    if (me.error instanceof ApiError && me.error.status === 403) return <NoAccess />;
    return (
      <FullPageMessage title="The console could not start" action={<Button onClick={() => void me.refetch()}>Try again</Button>}>
        {me.error.message}
      </FullPageMessage>
    );
  }
  const value: SessionValue = { me: me.data, can: (permission) => me.data.permissions.includes(permission) };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
