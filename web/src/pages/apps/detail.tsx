import { Alert, Button, Group, Loader, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { IconAlertTriangle, IconKey, IconPlayerPause, IconPlayerPlay, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { ApiError, client, unwrap } from '../../api.ts';
import { AppIcon } from '../../components/app-icon.tsx';
import { useConfirm } from '../../components/confirm.tsx';
import { AppStatusBadge } from '../../components/directory.tsx';
import { type OneTimeSecret, SecretDialog } from '../../components/secret-dialog.tsx';
import { CopyField, EmptyState, ErrorAlert, PageHeader, formatTime, notifyError, notifySuccess } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import { type App, AUTH_METHOD_LABELS, type Group as UserGroup } from '../../types.ts';
import { type AppFormValues, type AppTab, AppFormTabs, appToValues, iconBlob, placeApiErrors, tabOfErrors, uploadIcon, useAppForm, valuesToInput } from './form.tsx';
import { BackToApps, credentialsDialog } from './new.tsx';

/** /apps/:id — the app's settings in the same tabs as when it was added, plus what to paste into the app. */
export function AppPage() {
  const { id = '' } = useParams();
  const app = useQuery({ queryKey: ['apps', id], queryFn: () => unwrap(client.GET('/api/apps/{id}', { params: { path: { id } } })) });
  const bound = useQuery({ queryKey: ['apps', id, 'groups'], queryFn: () => unwrap(client.GET('/api/apps/{id}/groups', { params: { path: { id } } })) });

  if (app.error instanceof ApiError && app.error.status === 404) {
    return (
      <Stack>
        <BackToApps />
        <EmptyState title="There is no such application">It may have been deleted. Go back to SSO Applications to see the ones there are.</EmptyState>
      </Stack>
    );
  }
  if (app.error || bound.error) {
    return (
      <Stack>
        <BackToApps />
        <ErrorAlert error={app.error ?? bound.error} title="The application could not be loaded" />
      </Stack>
    );
  }
  if (!app.data || !bound.data) return <Loader aria-label="Loading the application" />;
  return <AppDetails key={app.data.id} app={app.data} boundGroups={bound.data} />;
}

function AppDetails({ app, boundGroups }: { app: App; boundGroups: UserGroup[] }) {
  const canWrite = useCan('directory');
  const confirm = useConfirm();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [tab, setTab] = useState<AppTab>('general');
  const [secret, setSecret] = useState<OneTimeSecret | undefined>();
  const boundIds = boundGroups.map((group) => group.id);
  const form = useAppForm(appToValues(app, boundIds), { readOnly: !canWrite });

  const refresh = (changed?: App) => {
    if (changed) queryClient.setQueryData(['apps', app.id], changed);
    void queryClient.invalidateQueries({ queryKey: ['apps', app.id] });
    void queryClient.invalidateQueries({ queryKey: ['apps'] });
  };

  const regenerate = useMutation({
    mutationFn: () => unwrap(client.POST('/api/apps/{id}/secret', { params: { path: { id: app.id } } })),
    onSuccess: (result) => {
      refresh(result.app);
      setSecret(credentialsDialog(result.app, result.client_secret, 'New client secret'));
    },
    onError: notifyError,
  });

  const setActive = useMutation({
    mutationFn: (active: boolean) => unwrap(client.POST(active ? '/api/apps/{id}/activate' : '/api/apps/{id}/deactivate', { params: { path: { id: app.id } } })),
    onSuccess: (changed) => {
      refresh(changed);
      notifySuccess(changed.active ? `"${changed.label}" is active again.` : `"${changed.label}" is inactive: nobody can sign in to it.`);
    },
    onError: notifyError,
  });

  const remove = useMutation({
    mutationFn: () => unwrap(client.DELETE('/api/apps/{id}', { params: { path: { id: app.id } } })),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: ['apps', app.id] });
      void queryClient.invalidateQueries({ queryKey: ['apps'] });
      void queryClient.invalidateQueries({ queryKey: ['groups'] });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      notifySuccess(`"${app.label}" was deleted.`);
      navigate('/apps');
    },
    onError: notifyError,
  });

  const save = useMutation({
    mutationFn: async (values: AppFormValues) => {
      const path = { id: app.id };
      const body = valuesToInput(values, { withRefreshTokenTtl: form.isDirty('refresh_token_days') || (values.refresh_token && !app.refresh_token) });
      let saved = await unwrap(client.PATCH('/api/apps/{id}', { params: { path }, body }));
      if (values.icon) saved = await uploadIcon(app.id, iconBlob(values.icon));
      else if (values.removeIcon && app.icon_url) {
        await unwrap(client.DELETE('/api/apps/{id}/icon', { params: { path } }));
        saved = await unwrap(client.GET('/api/apps/{id}', { params: { path } }));
      }
      const before = new Set(boundIds);
      const after = new Set(values.group_ids);
      for (const groupId of values.group_ids) if (!before.has(groupId)) await unwrap(client.PUT('/api/apps/{id}/groups/{groupId}', { params: { path: { ...path, groupId } } }));
      for (const groupId of boundIds) if (!after.has(groupId)) await unwrap(client.DELETE('/api/apps/{id}/groups/{groupId}', { params: { path: { ...path, groupId } } }));
      // A public client made confidential again needs a secret before it can sign anyone in.
      let clientSecret: string | null = null;
      if (saved.auth_method !== 'none' && !saved.has_client_secret) {
        const issued = await unwrap(client.POST('/api/apps/{id}/secret', { params: { path } }));
        saved = issued.app;
        clientSecret = issued.client_secret;
      }
      return { saved, clientSecret, groupIds: values.group_ids };
    },
    onSuccess: ({ saved, clientSecret, groupIds }) => {
      const values = appToValues(saved, groupIds);
      form.setInitialValues(values);
      form.setValues(values);
      form.resetDirty(values);
      refresh(saved);
      // Bindings show on user groups' and users' pages too.
      void queryClient.invalidateQueries({ queryKey: ['groups'] });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      notifySuccess(`"${saved.label}" was saved.`);
      if (clientSecret) setSecret(credentialsDialog(saved, clientSecret, 'New client secret'));
    },
    onError: (error) => {
      // Part of a save may have gone through (the settings, say, but not a binding): show what is stored now.
      refresh();
      void queryClient.invalidateQueries({ queryKey: ['apps', app.id, 'groups'] });
      if (error instanceof ApiError) placeApiErrors(form, error, setTab);
      else notifyError(error);
    },
  });

  const submit = form.onSubmit(
    async (values) => {
      const unbinding = boundGroups.filter((group) => !values.group_ids.includes(group.id));
      if (unbinding.length > 0) {
        const names = unbinding.map((group) => `"${group.name}"`).join(', ');
        const ok = await confirm({
          title: 'Unbind user groups?',
          message: `Members of ${names} will no longer be able to sign in to "${app.label}" (unless another bound group lets them).`,
          confirmLabel: unbinding.length === 1 ? 'Unbind group and save' : 'Unbind groups and save',
        });
        if (!ok) return;
      }
      if (values.auth_method === 'none' && app.has_client_secret) {
        const ok = await confirm({
          title: 'Make it a public client?',
          message: 'The client secret is deleted and the app must then use PKCE without a secret. Switching back later issues a new secret.',
          confirmLabel: 'Delete secret and save',
        });
        if (!ok) return;
      }
      save.mutate(values);
    },
    (errors) => {
      const first = tabOfErrors(errors);
      if (first) setTab(first);
    },
  );

  const askRegenerate = async () => {
    if (
      await confirm({
        title: 'Regenerate the client secret?',
        message: `The current secret of "${app.label}" stops working at once: the app cannot sign anyone in until you paste the new secret into it.`,
        confirmLabel: 'Regenerate secret',
      })
    ) {
      regenerate.mutate();
    }
  };
  const askDeactivate = async () => {
    if (
      await confirm({
        title: 'Deactivate this application?',
        message: `Nobody can sign in to "${app.label}" and its tokens stop working until it is activated again. Its settings and bindings are kept.`,
        confirmLabel: 'Deactivate',
      })
    ) {
      setActive.mutate(false);
    }
  };
  const askDelete = async () => {
    if (
      await confirm({
        title: 'Delete this application?',
        message: `"${app.label}" is deleted with its user group bindings, grants and tokens. The app can no longer sign anyone in; this cannot be undone.`,
        confirmLabel: 'Delete application',
      })
    ) {
      remove.mutate();
    }
  };

  const isPublic = app.auth_method === 'none';
  return (
    <Stack>
      <BackToApps />
      <PageHeader
        title={
          <Group gap="sm" wrap="nowrap">
            <AppIcon app={app} size={40} />
            <span>{app.label}</span>
          </Group>
        }
        description={
          <Group gap="xs" component="span">
            <AppStatusBadge active={app.active} />
            <span>Custom OIDC App · created {formatTime(app.created)}</span>
          </Group>
        }
        actions={
          canWrite ? (
            <>
              {app.active ? (
                <Button variant="default" leftSection={<IconPlayerPause size={16} />} onClick={() => void askDeactivate()} loading={setActive.isPending}>
                  Deactivate
                </Button>
              ) : (
                <Button variant="light" color="green" leftSection={<IconPlayerPlay size={16} />} onClick={() => setActive.mutate(true)} loading={setActive.isPending}>
                  Activate
                </Button>
              )}
              <Button variant="outline" color="red" leftSection={<IconTrash size={16} />} onClick={() => void askDelete()} loading={remove.isPending}>
                Delete
              </Button>
            </>
          ) : null
        }
      />

      {app.active ? null : (
        <Alert color="gray" icon={<IconPlayerPause size={18} />} title="This application is inactive">
          Nobody can sign in to it and its tokens are refused until it is activated again.
        </Alert>
      )}
      {boundGroups.length === 0 ? (
        <Alert color="orange" icon={<IconAlertTriangle size={18} />} title="No user group is bound">
          Nobody can sign in to this application yet: bind a user group (All Users, for everyone) on the User Groups tab.
        </Alert>
      ) : null}
      {!isPublic && !app.has_client_secret ? (
        <Alert color="orange" icon={<IconAlertTriangle size={18} />} title="No client secret">
          This app authenticates with a client secret but has none: {canWrite ? 'generate one below and paste it into the app.' : 'ask an administrator to generate one.'}
        </Alert>
      ) : null}

      <Paper withBorder p={{ base: 'sm', sm: 'lg' }}>
        <Stack gap="sm">
          <div>
            <Title order={2} size="h4">
              Issuer &amp; discovery
            </Title>
            <Text size="sm" c="dimmed">
              Paste these into the app’s OpenID Connect settings: most apps need only the issuer (or the discovery URL), the Client ID and the Client Secret.
            </Text>
          </div>
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <CopyField label="Issuer" value={app.issuer} description="Also called the issuer URL or OIDC base URL." />
            <CopyField label="Discovery URL" value={app.discovery_url} description="The OpenID configuration (.well-known) document." />
            <CopyField label="Client ID" value={app.client_id} />
            <Stack gap={4}>
              <Text size="sm" fw={500}>
                Client Secret
              </Text>
              <Text size="sm" c="dimmed">
                {isPublic
                  ? `${AUTH_METHOD_LABELS.none}: this app has no secret and uses PKCE.`
                  : app.has_client_secret
                    ? `Set (${AUTH_METHOD_LABELS[app.auth_method]}). It was shown once and cannot be retrieved; regenerate it if it is lost.`
                    : 'None yet.'}
              </Text>
              {canWrite && !isPublic ? (
                <Group>
                  <Button
                    variant="light"
                    size="xs"
                    leftSection={<IconKey size={14} />}
                    onClick={() => (app.has_client_secret ? void askRegenerate() : regenerate.mutate())}
                    loading={regenerate.isPending}
                  >
                    {app.has_client_secret ? 'Regenerate client secret' : 'Generate client secret'}
                  </Button>
                </Group>
              ) : null}
            </Stack>
          </SimpleGrid>
        </Stack>
      </Paper>

      <form onSubmit={submit} noValidate>
        <Paper withBorder p={{ base: 'sm', sm: 'lg' }}>
          <AppFormTabs form={form} tab={tab} onTabChange={setTab} readOnly={!canWrite} app={app} />
        </Paper>
        {canWrite ? (
          <Group justify="flex-end" mt="md">
            <Button variant="default" onClick={() => form.reset()} disabled={!form.isDirty() || save.isPending}>
              Discard changes
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!form.isDirty()}>
              Save
            </Button>
          </Group>
        ) : null}
      </form>

      <SecretDialog secret={secret} onClose={() => setSecret(undefined)} />
    </Stack>
  );
}
