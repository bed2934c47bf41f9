import { ActionIcon, Button, DataList, Group, Paper, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { client, unwrap } from '../../api.ts';
import { nameOf } from '../../components/directory.tsx';
import { notifySuccess } from '../../components/ui.tsx';
import type { User } from '../../types.ts';
import { type AttributeRow, profileValidation, showUserErrors, userKeys, validateAttributeName, validateAttributeValue } from './shared.tsx';

const PROFILE_FIELDS = ['firstname', 'lastname', 'displayname', 'username', 'email'] as const;
type ProfileField = (typeof PROFILE_FIELDS)[number];
const FIELD_LABELS: Record<ProfileField, string> = { firstname: 'First name', lastname: 'Last name', displayname: 'Display name', username: 'Username', email: 'Email' };

type ProfileValues = Record<ProfileField, string> & { attributes: AttributeRow[] };

const valuesOf = (user: User): ProfileValues => ({
  firstname: user.firstname,
  lastname: user.lastname,
  displayname: user.displayname,
  username: user.username,
  email: user.email,
  attributes: Object.entries(user.attributes).map(([name, value]) => ({ name, value })),
});

/** A card on the Details tab. */
export function Section({ title, description, children }: { title: string; description?: ReactNode; children: ReactNode }) {
  return (
    <Paper withBorder p="lg">
      <Title order={2} size="h4" mb={description ? 4 : 'md'}>
        {title}
      </Title>
      {description ? (
        <Text size="sm" c="dimmed" mb="md">
          {description}
        </Text>
      ) : null}
      {children}
    </Paper>
  );
}

/**
 * The profile and custom attributes, saved together. Remounted (by key) when the saved values
 * change, so the form always starts from what the server holds.
 */
export function ProfileForm({ user }: { user: User }) {
  const queryClient = useQueryClient();
  const form = useForm<ProfileValues>({
    initialValues: valuesOf(user),
    validateInputOnChange: true,
    validate: {
      ...profileValidation,
      attributes: {
        name: (value, values, path) => validateAttributeName(value, values.attributes, Number(path.split('.')[1])),
        value: validateAttributeValue,
      },
    },
  });

  const save = useMutation({
    mutationFn: (values: ProfileValues) => {
      // Only what changed is sent: the audit log then names exactly the fields that changed.
      const changes: Record<string, unknown> = {};
      for (const field of PROFILE_FIELDS) {
        const value = values[field].trim();
        if (value !== user[field]) changes[field] = value;
      }
      const attributes = Object.fromEntries(values.attributes.map((row) => [row.name, row.value]));
      if (JSON.stringify(attributes) !== JSON.stringify(user.attributes)) changes['attributes'] = attributes;
      // Edits that come back to the saved values (give or take spaces) change nothing.
      if (Object.keys(changes).length === 0) return Promise.resolve(user);
      return unwrap(client.PATCH('/api/users/{id}', { params: { path: { id: user.id } }, body: changes }));
    },
    onSuccess: async (saved) => {
      queryClient.setQueryData(userKeys.detail(user.id), saved);
      notifySuccess(`Saved ${nameOf(saved)}.`);
      await queryClient.invalidateQueries({ queryKey: ['users', 'list'] });
    },
    onError: (error) => {
      // The server names a bad attribute by its name (attributes.cost_centre); the form by its row.
      const pathMap = Object.fromEntries(form.getValues().attributes.map((row, index) => [`attributes.${row.name}`, `attributes.${index}.name`]));
      showUserErrors(form, error, pathMap);
    },
  });

  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
      <Stack gap="lg">
        <Section title="Profile">
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            {PROFILE_FIELDS.map((field) => (
              <TextInput
                key={field}
                label={FIELD_LABELS[field]}
                required={field === 'username' || field === 'email'}
                type={field === 'email' ? 'email' : 'text'}
                autoComplete="off"
                {...form.getInputProps(field)}
              />
            ))}
          </SimpleGrid>
        </Section>
        <Section title="Custom attributes" description="Extra values about this user (a cost centre, an employee number) that applications can receive as claims.">
          <Stack gap="xs">
            {form.values.attributes.length === 0 ? (
              <Text size="sm" c="dimmed">
                No custom attributes.
              </Text>
            ) : null}
            {form.values.attributes.map((row, index) => (
              <Group key={form.key(`attributes.${index}`)} align="flex-start" wrap="nowrap" gap="xs">
                {/* Visible labels head the first row only; every input keeps its own accessible name. */}
                <TextInput label={index === 0 ? 'Name' : null} aria-label={`Attribute ${index + 1} name`} placeholder="cost_centre" flex={1} {...form.getInputProps(`attributes.${index}.name`)} />
                <TextInput label={index === 0 ? 'Value' : null} aria-label={`Attribute ${index + 1} value`} flex={1} {...form.getInputProps(`attributes.${index}.value`)} />
                <ActionIcon variant="subtle" color="red" mt={index === 0 ? 26 : 0} size="lg" aria-label={`Remove attribute ${row.name || index + 1}`} onClick={() => form.removeListItem('attributes', index)}>
                  <IconTrash size={18} />
                </ActionIcon>
              </Group>
            ))}
            <Group>
              <Button variant="light" size="xs" leftSection={<IconPlus size={14} />} onClick={() => form.insertListItem('attributes', { name: '', value: '' })}>
                Add attribute
              </Button>
            </Group>
          </Stack>
        </Section>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => form.reset()} disabled={!form.isDirty()}>
            Discard changes
          </Button>
          <Button type="submit" loading={save.isPending} disabled={!form.isDirty()}>
            Save changes
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** The same information for those who may only look. */
export function ProfileView({ user }: { user: User }) {
  const attributes = Object.entries(user.attributes);
  return (
    <Stack gap="lg">
      <Section title="Profile">
        <DataList>
          {PROFILE_FIELDS.map((field) => (
            <DataList.Item key={field}>
              <DataList.ItemLabel>{FIELD_LABELS[field]}</DataList.ItemLabel>
              <DataList.ItemValue>{user[field] || <Text c="dimmed">—</Text>}</DataList.ItemValue>
            </DataList.Item>
          ))}
        </DataList>
      </Section>
      <Section title="Custom attributes">
        {attributes.length === 0 ? (
          <Text size="sm" c="dimmed">
            No custom attributes.
          </Text>
        ) : (
          <Table.ScrollContainer minWidth={360}>
            <Table aria-label="Custom attributes">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Value</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {attributes.map(([name, value]) => (
                  <Table.Tr key={name}>
                    <Table.Td>{name}</Table.Td>
                    <Table.Td>{value}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Section>
    </Stack>
  );
}

/** What remounts the form: the saved profile and attributes (a state change leaves unsaved edits alone). */
export const profileKey = (user: User): string => JSON.stringify(valuesOf(user));
