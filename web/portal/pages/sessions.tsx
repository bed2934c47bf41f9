import { Badge, Button, Card, Group, Stack, Text, Title } from '@mantine/core';
import { IconDeviceDesktop, IconDeviceMobile } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useConfirm } from '../../src/components/confirm.tsx';
import { EmptyState, ErrorAlert, formatTime, notifyError, notifySuccess } from '../../src/components/ui.tsx';
import { type AppGrant, type PortalSession, portalApi } from '../api.ts';
import { auth } from '../auth.ts';
import { PageTitle, PortalAppIcon } from '../components.tsx';

/** This browser's Gatehouse session has ended: the portal's tokens are worthless now, so leave quietly. */
function signedOutHere(): void {
  auth.forgetSession();
  window.location.assign(auth.signedOutUri);
}

const isPhone = (session: PortalSession) => /android|ios|iphone|ipad/i.test(`${session.os ?? ''} ${session.user_agent ?? ''}`);

function SessionRow({ session }: { session: PortalSession }) {
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const end = useMutation({
    mutationFn: () => portalApi.endSession(session.id),
    onSuccess: () => {
      if (session.current) return signedOutHere();
      notifySuccess(`${session.device} has been signed out`);
      void queryClient.invalidateQueries({ queryKey: ['me-sessions'] });
      void queryClient.invalidateQueries({ queryKey: ['me-app-grants'] });
    },
    onError: notifyError,
  });
  const ask = async () => {
    const ok = await confirm({
      title: session.current ? 'Sign out of this device?' : `Sign out ${session.device}?`,
      message: session.current
        ? 'This ends your Gatehouse session in this browser: you will have to sign in again here.'
        : 'That browser will have to sign in again. Apps it opened may keep their own sign-in until you revoke them below.',
      confirmLabel: 'Sign out',
    });
    if (ok) end.mutate();
  };
  const Icon = isPhone(session) ? IconDeviceMobile : IconDeviceDesktop;
  return (
    <Card withBorder padding="md" component="li" aria-label={session.current ? `${session.device} (this device)` : session.device}>
      <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
        <Group gap="md" align="flex-start" wrap="nowrap">
          <Icon size={28} aria-hidden />
          <Stack gap={2}>
            <Group gap="xs">
              <Text fw={600}>{session.device}</Text>
              {session.current ? (
                <Badge variant="light" color="green">
                  This device
                </Badge>
              ) : null}
            </Group>
            <Text size="sm" c="dimmed">
              {[session.ip ? `From ${session.ip}` : null, `last active ${formatTime(session.last_seen_at)}`, `signed in ${formatTime(session.signed_in_at)}`].filter(Boolean).join(' · ')}
            </Text>
            {session.apps.length > 0 ? (
              <Text size="sm" c="dimmed">
                Apps: {session.apps.map((app) => app.label).join(', ')}
              </Text>
            ) : null}
          </Stack>
        </Group>
        <Button variant="default" color="red" onClick={() => void ask()} loading={end.isPending} aria-label={`Sign out ${session.current ? 'this device' : session.device}`}>
          Sign out
        </Button>
      </Group>
    </Card>
  );
}

function AppGrantRow({ grant }: { grant: AppGrant }) {
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => portalApi.revokeAppGrant(grant.app_id),
    onSuccess: () => {
      notifySuccess(`${grant.label} has been revoked`);
      void queryClient.invalidateQueries({ queryKey: ['me-app-grants'] });
      void queryClient.invalidateQueries({ queryKey: ['me-sessions'] });
    },
    onError: notifyError,
  });
  const ask = async () => {
    const ok = await confirm({
      title: `Revoke ${grant.label}?`,
      message: `${grant.label} loses its access: it will have to ask you to sign in again${grant.has_refresh_tokens ? ', and can no longer keep you signed in' : ''}.`,
      confirmLabel: 'Revoke',
    });
    if (ok) revoke.mutate();
  };
  return (
    <Card withBorder padding="md" component="li" aria-label={grant.label}>
      <Group justify="space-between" align="center" wrap="wrap" gap="sm">
        <Group gap="md" wrap="nowrap">
          <PortalAppIcon app={{ id: grant.app_id, label: grant.label, has_icon: grant.has_icon }} size={36} />
          <Stack gap={2}>
            <Group gap="xs">
              <Text fw={600}>{grant.label}</Text>
              {grant.has_refresh_tokens ? (
                <Badge variant="light" color="gray">
                  Keeps you signed in
                </Badge>
              ) : null}
            </Group>
            <Text size="sm" c="dimmed">
              First signed in {formatTime(grant.first_signed_in_at)} · last used {formatTime(grant.last_used_at)}
            </Text>
          </Stack>
        </Group>
        <Button variant="default" color="red" onClick={() => void ask()} loading={revoke.isPending} aria-label={`Revoke ${grant.label}`}>
          Revoke
        </Button>
      </Group>
    </Card>
  );
}

export function SessionsPage() {
  const confirm = useConfirm();
  const sessions = useQuery({ queryKey: ['me-sessions'], queryFn: portalApi.sessions });
  const grants = useQuery({ queryKey: ['me-app-grants'], queryFn: portalApi.appGrants });
  const everywhere = useMutation({ mutationFn: portalApi.endAllSessions, onSuccess: signedOutHere, onError: notifyError });
  const askEverywhere = async () => {
    const ok = await confirm({
      title: 'Sign out everywhere?',
      message: 'Every browser you are signed in with, this one included, will have to sign in again, and every app loses its access to your account.',
      confirmLabel: 'Sign out everywhere',
    });
    if (ok) everywhere.mutate();
  };
  return (
    <>
      <PageTitle title="Sessions and apps" description="Where you are signed in, and the apps you have signed in to. Something you don't recognise? Sign it out, then change your password." />
      <Stack gap="xl" maw={880}>
        <Stack gap="sm" component="section" aria-labelledby="sessions-heading">
          <Group justify="space-between" wrap="wrap">
            <Title order={2} size="h4" id="sessions-heading">
              Where you're signed in
            </Title>
            <Button color="red" variant="light" onClick={() => void askEverywhere()} loading={everywhere.isPending}>
              Sign out everywhere
            </Button>
          </Group>
          <ErrorAlert error={sessions.error} title="Your sessions could not be loaded" />
          {sessions.data ? (
            <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label="Sessions">
              {sessions.data.data.map((session) => (
                <SessionRow key={session.id} session={session} />
              ))}
            </Stack>
          ) : null}
        </Stack>
        <Stack gap="sm" component="section" aria-labelledby="grants-heading">
          <Title order={2} size="h4" id="grants-heading">
            Apps you've signed in to
          </Title>
          <ErrorAlert error={grants.error} title="Your apps could not be loaded" />
          {grants.data && grants.data.data.length === 0 ? <EmptyState title="No app has access to your account">Apps you sign in to appear here, until you revoke them.</EmptyState> : null}
          {grants.data && grants.data.data.length > 0 ? (
            <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label="Apps signed in to">
              {grants.data.data.map((grant) => (
                <AppGrantRow key={grant.app_id} grant={grant} />
              ))}
            </Stack>
          ) : null}
        </Stack>
      </Stack>
    </>
  );
}
