import { Button, Center, Loader, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect } from 'react';
import { type Profile, portalApi } from './api.ts';
import { auth } from './auth.ts';

const ProfileContext = createContext<Profile | undefined>(undefined);

/** The signed-in person, as /api/me/profile describes them (name, organisation, administrator or not). */
export function useProfile(): Profile {
  const profile = useContext(ProfileContext);
  if (!profile) throw new Error('useProfile outside <PortalGate>');
  return profile;
}

/** The person's name as people call them. */
export function nameOf(user: Profile['user']): string {
  return user.displayname || [user.firstname, user.lastname].filter(Boolean).join(' ') || user.username;
}

export function PortalMessage({ title, children, action }: { title: string; children: ReactNode; action?: ReactNode }) {
  return (
    <Center component="main" mih="100vh" p="md">
      <Stack maw={460} gap="sm" align="flex-start">
        <Text fw={700} c="blue.9">
          Gatehouse
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

export function Loading({ label }: { label: string }) {
  return (
    <Center component="main" mih="100vh">
      <Loader aria-label={label} />
    </Center>
  );
}

/** Everything inside needs a signed-in person: sign in first (straight back with a live Gatehouse session), then learn who they are. */
export function PortalGate({ children }: { children: ReactNode }) {
  const token = auth.accessToken();
  useEffect(() => {
    if (!token) void auth.signIn();
  }, [token]);
  const profile = useQuery({ queryKey: ['profile'], queryFn: portalApi.profile, enabled: Boolean(token), staleTime: 60_000, retry: false });
  if (!token || profile.isPending) return <Loading label="Signing in" />;
  if (profile.error) {
    return (
      <PortalMessage
        title="Your apps could not be shown"
        action={
          <Stack gap="xs" align="flex-start">
            <Button onClick={() => void profile.refetch()}>Try again</Button>
            <Button variant="subtle" onClick={() => void auth.signOut()}>
              Sign out
            </Button>
          </Stack>
        }
      >
        {profile.error.message}
      </PortalMessage>
    );
  }
  return <ProfileContext.Provider value={profile.data}>{children}</ProfileContext.Provider>;
}
