import { Badge, Button, Card, Group, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorAlert, formatTime, notifySuccess } from '../../src/components/ui.tsx';
import { portalApi } from '../api.ts';
import { PageTitle } from '../components.tsx';
import { useProfile } from '../session.tsx';

/** A read-only value: its label and the value as text (not a disabled input: easier to read and to copy). */
function Field({ label, value }: { label: string; value: string | null | undefined }) {
  return (
    <div>
      <Text size="sm" c="dimmed" component="dt">
        {label}
      </Text>
      <Text component="dd" m={0} style={{ overflowWrap: 'anywhere' }}>
        {value || '—'}
      </Text>
    </div>
  );
}

function DisplayNameForm({ current }: { current: string }) {
  const queryClient = useQueryClient();
  const [value, setValue] = useState(current);
  const save = useMutation({
    mutationFn: (displayname: string) => portalApi.updateProfile(displayname),
    onSuccess: (profile) => {
      queryClient.setQueryData(['profile'], profile);
      notifySuccess('Display name saved');
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(value.trim());
  };
  return (
    <form onSubmit={submit}>
      <Group align="flex-end" gap="sm" wrap="wrap">
        <TextInput label="Display name" description="How you are shown to others and in apps." value={value} onChange={(event) => setValue(event.currentTarget.value)} maxLength={200} w={320} maw="100%" />
        <Button type="submit" loading={save.isPending} disabled={value.trim() === current}>
          Save
        </Button>
      </Group>
      <ErrorAlert error={save.error} title="The display name was not saved" />
    </form>
  );
}

export function ProfilePage() {
  const { user, groups, password, may_edit_displayname, organisation_name } = useProfile();
  const attributes = Object.entries(user.attributes ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <>
      <PageTitle title="Profile" description={`What ${organisation_name || 'your organisation'}’s directory holds about you. To correct something you can’t change here, ask its administrators.`} />
      <Stack gap="lg" maw={880}>
        <Card withBorder padding="lg" component="section" aria-labelledby="details-heading">
          <Title order={2} size="h4" mb="md" id="details-heading">
            Your details
          </Title>
          {may_edit_displayname ? (
            <Stack mb="md">
              <DisplayNameForm current={user.displayname} />
            </Stack>
          ) : null}
          <SimpleGrid component="dl" cols={{ base: 1, sm: 2 }} spacing="md" m={0}>
            {may_edit_displayname ? null : <Field label="Display name" value={user.displayname} />}
            <Field label="First name" value={user.firstname} />
            <Field label="Last name" value={user.lastname} />
            <Field label="Username" value={user.username} />
            <Field label="Email" value={user.email} />
            {attributes.map(([name, value]) => (
              <Field key={name} label={name} value={value} />
            ))}
          </SimpleGrid>
        </Card>
        <Card withBorder padding="lg" component="section" aria-labelledby="groups-heading">
          <Title order={2} size="h4" mb="md" id="groups-heading">
            Groups
          </Title>
          {groups.length === 0 ? (
            <Text c="dimmed">You are not in any group.</Text>
          ) : (
            <Group gap="xs" component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label="Your groups">
              {groups.map((group) => (
                <li key={group.id}>
                  <Badge variant="light" size="lg" tt="none">
                    {group.name}
                  </Badge>
                </li>
              ))}
            </Group>
          )}
        </Card>
        <Card withBorder padding="lg" component="section" aria-labelledby="password-heading">
          <Title order={2} size="h4" mb="md" id="password-heading">
            Password
          </Title>
          <Text>
            {password.managed_externally
              ? `Your password is managed by ${password.managed_by ?? 'your organisation’s identity provider'}.`
              : !password.set
                ? 'You have no Gatehouse password.'
                : password.changed_at
                  ? `Last changed ${formatTime(password.changed_at)}.`
                  : 'Not changed since Gatehouse started recording it.'}
          </Text>
        </Card>
      </Stack>
    </>
  );
}
