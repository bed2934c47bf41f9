import { Anchor, Button, Card, Group, Paper, SimpleGrid, Stack, Text } from '@mantine/core';
import { IconArrowLeft, IconPlugConnected } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { ApiError, client, unwrap } from '../../api.ts';
import { type OneTimeSecret, SecretDialog } from '../../components/secret-dialog.tsx';
import { EmptyState, PageHeader, notifyError, notifySuccess } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import type { App } from '../../types.ts';
import { type AppFormValues, type AppTab, AppFormTabs, emptyAppValues, iconBlob, placeApiErrors, tabOfErrors, uploadIcon, useAppForm, valuesToInput } from './form.tsx';

export function BackToApps() {
  return (
    <Anchor component={Link} to="/apps" size="sm">
      <Group gap={4} wrap="nowrap">
        <IconArrowLeft size={14} />
        SSO Applications
      </Group>
    </Anchor>
  );
}

/** The dialog after activation or a regenerated secret: the secret is in it this once only. */
export function credentialsDialog(app: App, clientSecret: string | null, title: string): OneTimeSecret {
  if (clientSecret === null) {
    return {
      title,
      values: [{ label: 'Client ID', value: app.client_id }],
      warning: 'This is a public client (PKCE): it has no client secret. Copy the Client ID into the app; it stays on the SSO tab.',
    };
  }
  return {
    title,
    values: [
      { label: 'Client ID', value: app.client_id },
      { label: 'Client Secret', value: clientSecret },
    ],
    warning: 'The client secret cannot be retrieved later: only a hash of it is kept. Copy it now and store it safely; if it is lost, regenerate it on the app’s page.',
  };
}

/** "+ Add New Application": choose the type, then fill in the tabs and Activate. */
export function NewAppPage() {
  const canWrite = useCan('directory');
  const [params, setParams] = useSearchParams();
  if (!canWrite) {
    return (
      <>
        <BackToApps />
        <EmptyState title="You can't add applications">Adding an SSO application needs an administrator role that may change the directory. Ask an administrator.</EmptyState>
      </>
    );
  }
  if (params.get('type') !== 'oidc') return <ChooseAppType onChoose={() => setParams({ type: 'oidc' })} />;
  return <NewOidcApp />;
}

function ChooseAppType({ onChoose }: { onChoose: () => void }) {
  return (
    <Stack>
      <BackToApps />
      <PageHeader title="Create New Application Integration" description="Choose the kind of application that signs in through Gatehouse." />
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        <Card withBorder padding="lg">
          <Stack gap="sm" h="100%">
            <Group gap="sm" wrap="nowrap">
              <IconPlugConnected size={32} stroke={1.5} color="var(--mantine-color-blue-6)" aria-hidden />
              <div>
                <Text fw={600}>Custom OIDC App</Text>
                <Text size="xs" c="dimmed">
                  OpenID Connect
                </Text>
              </div>
            </Group>
            <Text size="sm" c="dimmed" style={{ flex: 1 }}>
              Any application that signs people in with OpenID Connect (OAuth 2.0 authorization code): web apps, gateways, single-page and mobile apps.
            </Text>
            <Button onClick={onChoose}>Custom OIDC App</Button>
          </Stack>
        </Card>
      </SimpleGrid>
      <Text size="sm" c="dimmed">
        SAML and pre-built catalog integrations are not available: configure the application as a custom OpenID Connect app.
      </Text>
    </Stack>
  );
}

function NewOidcApp() {
  const form = useAppForm(emptyAppValues());
  const [tab, setTab] = useState<AppTab>('general');
  const [created, setCreated] = useState<{ app: App; clientSecret: string | null } | undefined>();
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  const activate = useMutation({
    mutationFn: async (values: AppFormValues) => {
      const result = await unwrap(client.POST('/api/apps', { body: valuesToInput(values, { withRefreshTokenTtl: values.refresh_token }) }));
      let app = result.app;
      // The app exists from here on: what fails next is reported, and the secret is still shown once.
      if (values.icon) {
        try {
          app = await uploadIcon(app.id, iconBlob(values.icon));
        } catch (error) {
          notifyError(new Error(`The app was created, but its icon was not uploaded: ${error instanceof Error ? error.message : String(error)}`));
        }
      }
      const unbound: string[] = [];
      for (const groupId of values.group_ids) {
        try {
          await unwrap(client.PUT('/api/apps/{id}/groups/{groupId}', { params: { path: { id: app.id, groupId } } }));
        } catch {
          unbound.push(groupId);
        }
      }
      if (unbound.length > 0) notifyError(new Error(`The app was created, but ${unbound.length} user group(s) could not be bound: bind them on the User Groups tab.`));
      return { app, clientSecret: result.client_secret };
    },
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: ['apps'] });
      void queryClient.invalidateQueries({ queryKey: ['groups'] });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      notifySuccess(`"${result.app.label}" is active.`);
      setCreated(result);
    },
    onError: (error) => {
      if (error instanceof ApiError) placeApiErrors(form, error, setTab);
      else notifyError(error);
    },
  });

  const submit = form.onSubmit(
    (values) => activate.mutate(values),
    (errors) => {
      const first = tabOfErrors(errors);
      if (first) setTab(first);
    },
  );

  return (
    <Stack>
      <BackToApps />
      <PageHeader title="New Custom OIDC App" description="Fill in General Info and SSO, bind the user groups that may sign in, then Activate." />
      <form onSubmit={submit} noValidate>
        <Paper withBorder p={{ base: 'sm', sm: 'lg' }}>
          <AppFormTabs form={form} tab={tab} onTabChange={setTab} />
        </Paper>
        <Group justify="flex-end" mt="md">
          <Button component={Link} to="/apps" variant="default">
            Cancel
          </Button>
          <Button type="submit" loading={activate.isPending}>
            Activate
          </Button>
        </Group>
      </form>
      <SecretDialog
        secret={created ? credentialsDialog(created.app, created.clientSecret, 'Application Saved') : undefined}
        onClose={() => {
          if (created) navigate(`/apps/${created.app.id}`);
        }}
      />
    </Stack>
  );
}
