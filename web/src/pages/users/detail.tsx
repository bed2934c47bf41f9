import { Alert, Anchor, Breadcrumbs, Button, DataList, Group, Loader, Select, SimpleGrid, Stack, Text } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useDisclosure } from '@mantine/hooks';
import { IconApps, IconId, IconInfoCircle, IconKey, IconLayoutGrid, IconLink, IconLockOpen, IconPlayerPause, IconPlayerPlay, IconShieldLock, IconTrash, IconUsersGroup } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { UserStateBadge, nameOf } from '../../components/directory.tsx';
import { CopyField, EmptyState, ErrorAlert, PageHeader, formatTime, notifyError, notifySuccess } from '../../components/ui.tsx';
import { UrlTabs } from '../../components/url-tabs.tsx';
import { useSession } from '../../session.tsx';
import { ROLE_LABELS, type Role, type User, roleCovers } from '../../types.ts';
import { ExternallyManagedNotice, LinkedIdentitiesSection, useUserIdentities } from './identities.tsx';
import { UserAppsTab, UserGroupsTab } from './membership.tsx';
import { UserFactorsTab } from './factors.tsx';
import { UserPortalTab } from './portal-apps.tsx';
import { ResetPasswordModal } from './password.tsx';
import { ProfileForm, ProfileView, Section, profileKey } from './profile.tsx';
import { LockedBadge, NO_ROLE, RoleBadge, STATE_DESCRIPTIONS, roleOptions, showUserErrors, userKeys } from './shared.tsx';

/** Whether someone with role `own` may change `user` (the server refuses changes to administrators above one's role). */
const mayChange = (own: Role, user: User): boolean => !user.role || roleCovers(own, user.role);

/** One user, JumpCloud-style: who they are and what can be done to them on top, then Details, User Groups and Applications. */
export function UserPage() {
  const { id = '' } = useParams();
  const { me, can } = useSession();
  const user = useQuery({
    queryKey: userKeys.detail(id),
    queryFn: () => unwrap(client.GET('/api/users/{id}', { params: { path: { id } } })),
    // A missing user stays missing: say so at once.
    retry: (failures, error) => !(error instanceof ApiError && error.status === 404) && failures < 1,
  });

  const breadcrumbs = (
    <Breadcrumbs mb="sm">
      <Anchor component={Link} to="/users" size="sm">
        Users
      </Anchor>
      <Text size="sm">{user.data ? nameOf(user.data) : user.error ? 'Unknown user' : '…'}</Text>
    </Breadcrumbs>
  );

  if (user.error) {
    if (user.error instanceof ApiError && user.error.status === 404) {
      return (
        <>
          {breadcrumbs}
          <EmptyState
            title="There is no such user"
            action={
              <Button component={Link} to="/users" variant="light">
                Back to Users
              </Button>
            }
          >
            They may have been deleted. Search for them on the Users page.
          </EmptyState>
        </>
      );
    }
    return (
      <>
        {breadcrumbs}
        <ErrorAlert error={user.error} title="Could not load the user" />
      </>
    );
  }
  if (!user.data) return <Loader aria-label="Loading user" />;
  const current = user.data;
  const mayResetFactors = can('helpdesk') && mayChange(me.role, current);

  return (
    <>
      {breadcrumbs}
      <PageHeader
        title={nameOf(current)}
        description={`${current.username} · ${current.email}`}
        actions={<UserActions user={current} />}
      />
      <Group gap="xs" mt={-8} mb="lg">
        <UserStateBadge state={current.state} />
        {current.account_locked ? <LockedBadge /> : null}
        {current.role ? <RoleBadge role={current.role} /> : null}
      </Group>
      <ExternallyManagedNotice user={current} />
      <UrlTabs
        tabs={[
          { value: 'details', label: 'Details', icon: <IconId size={16} />, panel: <DetailsTab user={current} /> },
          { value: 'groups', label: 'User Groups', icon: <IconUsersGroup size={16} />, panel: <UserGroupsTab user={current} /> },
          { value: 'apps', label: 'Applications', icon: <IconApps size={16} />, panel: <UserAppsTab user={current} /> },
          { value: 'portal', label: 'User Portal', icon: <IconLayoutGrid size={16} />, panel: <UserPortalTab user={current} /> },
          { value: 'sign-in-methods', label: 'Sign-in Methods', icon: <IconShieldLock size={16} />, panel: <UserFactorsTab user={current} mayReset={mayResetFactors} /> },
          { value: 'identities', label: 'Linked Identities', icon: <IconLink size={16} />, panel: <LinkedIdentitiesSection user={current} /> },
        ]}
      />
    </>
  );
}

/** Suspend/activate, unlock and reset password (help desk); delete (directory). Absent for roles without them. */
function UserActions({ user }: { user: User }) {
  const { me, can } = useSession();
  const confirm = useConfirm();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [resetting, { open: openReset, close: closeReset }] = useDisclosure(false);
  // A routed user's password is managed at their identity provider: Gatehouse refuses to set one.
  const externallyManaged = useUserIdentities(user.id).data?.externally_managed_password === true;

  const stateChange = useMutation({
    mutationFn: (action: 'suspend' | 'activate' | 'unlock') => unwrap(client.POST(`/api/users/{id}/${action}`, { params: { path: { id: user.id } } })),
    onSuccess: async (saved, action) => {
      queryClient.setQueryData(userKeys.detail(user.id), saved);
      const done = { suspend: 'Suspended', activate: 'Activated', unlock: 'Unlocked' }[action];
      notifySuccess(`${done} ${nameOf(saved)}.`);
      await queryClient.invalidateQueries({ queryKey: ['users', 'list'] });
    },
    onError: notifyError,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(client.DELETE('/api/users/{id}', { params: { path: { id: user.id } } })),
    onSuccess: async () => {
      notifySuccess(`Deleted ${nameOf(user)}.`);
      navigate('/users');
      queryClient.removeQueries({ queryKey: userKeys.detail(user.id) });
      await queryClient.invalidateQueries({ queryKey: ['users', 'list'] });
    },
    onError: notifyError,
  });

  const suspend = async () => {
    const sure = await confirm({
      title: 'Suspend user?',
      message: `${nameOf(user)} will not be able to sign in to any application, and their sessions and tokens end now.`,
      confirmLabel: 'Suspend user',
    });
    if (sure) stateChange.mutate('suspend');
  };
  const deleteUser = async () => {
    const sure = await confirm({
      title: 'Delete user?',
      message: `${nameOf(user)} (${user.username}) will be deleted with their group memberships, and will lose access to every application at once. This cannot be undone.`,
      confirmLabel: 'Delete user',
    });
    if (sure) remove.mutate();
  };

  // Nobody changes an administrator whose role is above their own, nor deletes themselves: the server
  // refuses. Suspending oneself it allows, but that locks one out of this console: leave it out too.
  const mayActOn = mayChange(me.role, user);
  const self = user.id === me.user.id;
  const helpdesk = can('helpdesk') && mayActOn;
  const mayDelete = can('directory') && mayActOn && !self;
  if (!helpdesk && !mayDelete) return null;
  const busy = stateChange.isPending ? stateChange.variables : undefined;
  return (
    <>
      {helpdesk ? (
        <>
          {self ? null : user.state === 'ACTIVATED' ? (
            <Button variant="default" leftSection={<IconPlayerPause size={16} />} onClick={() => void suspend()} loading={busy === 'suspend'}>
              Suspend
            </Button>
          ) : (
            <Button variant="default" leftSection={<IconPlayerPlay size={16} />} onClick={() => stateChange.mutate('activate')} loading={busy === 'activate'}>
              Activate
            </Button>
          )}
          {user.account_locked ? (
            <Button variant="default" leftSection={<IconLockOpen size={16} />} onClick={() => stateChange.mutate('unlock')} loading={busy === 'unlock'}>
              Unlock
            </Button>
          ) : null}
          {externallyManaged ? null : (
            <>
              <Button variant="default" leftSection={<IconKey size={16} />} onClick={openReset}>
                {user.has_password ? 'Reset password' : 'Set password'}
              </Button>
              <ResetPasswordModal user={user} opened={resetting} onClose={closeReset} />
            </>
          )}
        </>
      ) : null}
      {mayDelete ? (
        <Button color="red" variant="light" leftSection={<IconTrash size={16} />} onClick={() => void deleteUser()} loading={remove.isPending}>
          Delete user
        </Button>
      ) : null}
    </>
  );
}

function DetailsTab({ user }: { user: User }) {
  const { me, can } = useSession();
  const mayActOn = mayChange(me.role, user);
  const identities = useUserIdentities(user.id);
  return (
    <Stack gap="lg">
      {!mayActOn && (can('helpdesk') || can('directory')) && user.role ? (
        <Alert icon={<IconInfoCircle size={18} />} color="gray" title="You can't change this user">
          {nameOf(user)} is {ROLE_LABELS[user.role]}, a role above yours ({ROLE_LABELS[me.role]}). Only someone whose role covers theirs can change them.
        </Alert>
      ) : null}
      {can('directory') && mayActOn ? <ProfileForm key={profileKey(user)} user={user} /> : <ProfileView user={user} />}
      <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
        <RoleSection key={user.role ?? NO_ROLE} user={user} />
        <Section title="Account">
          <Stack gap="sm">
            <DataList>
              <DataList.Item>
                <DataList.ItemLabel>State</DataList.ItemLabel>
                <DataList.ItemValue>
                  <Group gap="xs">
                    <UserStateBadge state={user.state} />
                    <Text size="sm" c="dimmed">
                      {user.state === 'ACTIVATED' && identities.data?.externally_managed_password
                        ? `Can sign in (at ${identities.data.identity_provider?.name ?? 'their identity provider'}).`
                        : STATE_DESCRIPTIONS[user.state]}
                    </Text>
                  </Group>
                </DataList.ItemValue>
              </DataList.Item>
              <DataList.Item>
                <DataList.ItemLabel>Sign-in</DataList.ItemLabel>
                <DataList.ItemValue>{user.account_locked ? 'Locked after too many failed sign-ins' : 'Not locked'}</DataList.ItemValue>
              </DataList.Item>
              <DataList.Item>
                <DataList.ItemLabel>Password</DataList.ItemLabel>
                <DataList.ItemValue>
                  {identities.data?.externally_managed_password
                    ? `Externally managed at ${identities.data.identity_provider?.name ?? 'an identity provider'}`
                    : user.has_password
                      ? 'Set'
                      : 'Not set: cannot sign in yet'}
                </DataList.ItemValue>
              </DataList.Item>
              <DataList.Item>
                <DataList.ItemLabel>Created</DataList.ItemLabel>
                <DataList.ItemValue>{formatTime(user.created)}</DataList.ItemValue>
              </DataList.Item>
              <DataList.Item>
                <DataList.ItemLabel>Last changed</DataList.ItemLabel>
                <DataList.ItemValue>{formatTime(user.updated)}</DataList.ItemValue>
              </DataList.Item>
            </DataList>
            <CopyField label="User ID" value={user.id} />
          </Stack>
        </Section>
      </SimpleGrid>
    </Stack>
  );
}

/** The administrator role: who may use this console and what they may do there. Only `security` may change it. */
function RoleSection({ user }: { user: User }) {
  const { me, can } = useSession();
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const form = useForm({ initialValues: { role: user.role ?? NO_ROLE } });
  const setRole = useMutation({
    mutationFn: (role: Role | null) => unwrap(client.PUT('/api/users/{id}/role', { params: { path: { id: user.id } }, body: { role } })),
    onSuccess: async (saved) => {
      queryClient.setQueryData(userKeys.detail(user.id), saved);
      notifySuccess(saved.role ? `${nameOf(saved)} is now ${ROLE_LABELS[saved.role]}.` : `${nameOf(saved)} is no longer an administrator.`);
      await queryClient.invalidateQueries({ queryKey: ['users', 'list'] });
      if (saved.id === me.user.id) await queryClient.invalidateQueries({ queryKey: ['me'] });
    },
    onError: (error) => showUserErrors(form, error),
  });
  const submit = async ({ role }: { role: string }) => {
    const next = role === NO_ROLE ? null : (role as Role);
    const self = user.id === me.user.id ? ' This is your own role: you may lose access to parts of this console.' : '';
    const sure = await confirm({
      title: next ? 'Change administrator role?' : 'Remove administrator role?',
      message: next
        ? `${nameOf(user)} will be ${ROLE_LABELS[next]} and can use this console with that role's permissions.${self}`
        : `${nameOf(user)} will no longer be able to use this console, and their API keys are revoked.${self}`,
      confirmLabel: next ? 'Change role' : 'Remove role',
      danger: !next || Boolean(self),
    });
    if (sure) setRole.mutate(next);
  };

  return (
    <Section title="Administrator role" description="A role lets a user sign in to this console and decides what they may do here.">
      {can('security') && mayChange(me.role, user) ? (
        <form onSubmit={form.onSubmit((values) => void submit(values))} noValidate>
          <Stack gap="sm">
            <Select label="Role" data={roleOptions(me.role)} allowDeselect={false} description="You can grant or remove only roles your own role covers." {...form.getInputProps('role')} />
            <Group justify="flex-end">
              <Button type="submit" disabled={form.values.role === (user.role ?? NO_ROLE)} loading={setRole.isPending}>
                Save role
              </Button>
            </Group>
          </Stack>
        </form>
      ) : (
        <div>{user.role ? <RoleBadge role={user.role} size="lg" /> : <Text>None: this user cannot use the admin console.</Text>}</div>
      )}
    </Section>
  );
}
