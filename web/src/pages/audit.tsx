import { ActionIcon, Autocomplete, Badge, Button, Code, Group, Paper, SimpleGrid, Skeleton, Stack, Table, Text, TextInput, VisuallyHidden } from '@mantine/core';
import { DateInput } from '@mantine/dates';
import { useDebouncedValue } from '@mantine/hooks';
import { IconChevronDown, IconChevronRight, IconFilterOff } from '@tabler/icons-react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import dayjs from 'dayjs';
import { Fragment, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { client, unwrap } from '../api.ts';
import { EmptyState, ErrorAlert, PageHeader, Pager } from '../components/ui.tsx';
import type { AuditEvent } from '../types.ts';

const PAGE_SIZE = 50;

/** The API's pattern for `action` (src/http/routes/api/audit.ts): an action, or every action under a prefix. */
const ACTION_PATTERN = /^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$/;

/** What Gatehouse records, for suggestions; any other action can still be typed. */
const KNOWN_ACTIONS = [
  'user.*', 'user.create', 'user.update', 'user.delete', 'user.suspend', 'user.activate', 'user.unlock', 'user.set_password', 'user.set_role', 'user.sign_in',
  'user.access_policy', 'user.factors_reset',
  'group.*', 'group.create', 'group.update', 'group.delete', 'group.add_member', 'group.remove_member',
  'app.*', 'app.create', 'app.update', 'app.delete', 'app.bind', 'app.unbind', 'app.regenerate_secret', 'app.set_icon', 'app.remove_icon',
  'api_key.*', 'api_key.create', 'api_key.revoke',
  'identity_provider.*', 'identity_provider.create', 'identity_provider.update', 'identity_provider.delete',
  'routing_policy.*', 'routing_policy.create', 'routing_policy.update', 'routing_policy.delete',
  'federation.*', 'federation.sign_in', 'federation.link', 'federation.unlink', 'federation.user_created',
  'self.*', 'self.profile_update', 'self.password_change', 'self.session.end', 'self.session.end_all', 'self.session.end_others', 'self.app_grant.revoke',
  'self.factor.*', 'self.factor.totp_enrol', 'self.factor.totp_remove', 'self.factor.passkey_register', 'self.factor.passkey_rename', 'self.factor.passkey_remove', 'self.recovery_codes.regenerate',
  'access_policy.*', 'access_policy.create', 'access_policy.update', 'access_policy.delete', 'access_policy.reorder',
  'keys.rotate', 'settings.update', 'token.issue',
];

const ACTOR_TYPE_LABELS: Record<AuditEvent['actor']['type'], string> = {
  user: 'User',
  api_key: 'API key',
  cli: 'Command line',
  system: 'Gatehouse',
  anonymous: 'Anonymous',
};

interface Filters {
  /** YYYY-MM-DD: events from the start of this day (local time). */
  from: string;
  /** YYYY-MM-DD: events up to the end of this day (local time). */
  to: string;
  actor: string;
  action: string;
  page: number;
}

const FILTER_NAMES = ['from', 'to', 'actor', 'action'] as const;
const isDay = (value: string) => /^\d{4}-\d{2}-\d{2}$/.test(value) && dayjs(value).isValid();

function readFilters(params: URLSearchParams): Filters {
  const day = (name: string) => {
    const value = params.get(name) ?? '';
    return isDay(value) ? value : '';
  };
  const action = params.get('action') ?? '';
  const page = Number.parseInt(params.get('page') ?? '1', 10);
  return { from: day('from'), to: day('to'), actor: params.get('actor') ?? '', action: ACTION_PATTERN.test(action) ? action : '', page: Number.isSafeInteger(page) && page > 0 ? page : 1 };
}

/** Audit Log: every change and refused attempt, newest first. The filters live in the URL, so a filtered view can be shared or bookmarked. */
export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const filtered = FILTER_NAMES.some((name) => filters[name] !== '');
  const offset = (filters.page - 1) * PAGE_SIZE;

  const events = useQuery({
    queryKey: ['audit-events', filters],
    queryFn: () =>
      unwrap(
        client.GET('/api/audit-events', {
          params: {
            query: {
              ...(filters.from ? { since: dayjs(filters.from).startOf('day').toISOString() } : {}),
              ...(filters.to ? { until: dayjs(filters.to).add(1, 'day').startOf('day').toISOString() } : {}),
              ...(filters.actor ? { actor: filters.actor } : {}),
              ...(filters.action ? { action: filters.action } : {}),
              limit: PAGE_SIZE,
              offset,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  /** Changes filters (back to the first page) or the page, keeping everything else in the URL. */
  const update = (changes: Partial<Filters>, options: { replace?: boolean } = {}) => {
    const next = { ...filters, page: 1, ...changes };
    const search = new URLSearchParams();
    for (const name of FILTER_NAMES) if (next[name]) search.set(name, next[name]);
    if (next.page > 1) search.set('page', String(next.page));
    setParams(search, { replace: options.replace ?? false });
  };
  const clearButton = (
    <Button variant="default" leftSection={<IconFilterOff size={16} />} onClick={() => update({ from: '', to: '', actor: '', action: '' })}>
      Clear filters
    </Button>
  );

  return (
    <>
      <PageHeader title="Audit Log" description="Every change made in the console, through the API or on the command line, and every refused attempt, newest first." />
      <Paper withBorder p="md" mb="md" component="section" aria-label="Filters">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm">
          <DateInput
            label="From"
            placeholder="Any time"
            valueFormat="YYYY-MM-DD"
            clearable
            value={filters.from || null}
            {...(filters.to ? { maxDate: filters.to } : {})}
            onChange={(value) => update({ from: value ?? '' })}
          />
          <DateInput
            label="To"
            placeholder="Now"
            valueFormat="YYYY-MM-DD"
            clearable
            value={filters.to || null}
            {...(filters.from ? { minDate: filters.from } : {})}
            onChange={(value) => update({ to: value ?? '' })}
          />
          <TextFilter
            label="Actor"
            placeholder="Username, or owner/key name"
            value={filters.actor}
            onCommit={(actor) => update({ actor }, { replace: true })}
            validate={(value) => (value.length > 300 ? 'At most 300 characters' : null)}
          />
          <TextFilter
            label="Action"
            placeholder="e.g. user.create or user.*"
            suggestions={KNOWN_ACTIONS}
            value={filters.action}
            onCommit={(action) => update({ action }, { replace: true })}
            validate={(value) => (value && !ACTION_PATTERN.test(value) ? 'An action such as user.create, or user.* for every user action' : null)}
          />
        </SimpleGrid>
        {filtered ? (
          <Group justify="flex-end" mt="sm">
            {clearButton}
          </Group>
        ) : null}
      </Paper>
      <ErrorAlert error={events.error} title="The audit log could not be loaded" />
      {events.isPending ? (
        <Skeleton height={240} />
      ) : events.data && events.data.data.length === 0 ? (
        filtered ? (
          <EmptyState title="No events match these filters" action={clearButton}>
            Widen the time range, or check the actor’s exact username (an API key is named owner/key name) and the action.
          </EmptyState>
        ) : (
          <EmptyState title="Nothing has happened yet">Changes to users, groups, apps, keys and settings, and sign-ins, appear here as they happen.</EmptyState>
        )
      ) : events.data ? (
        <>
          <EventTable events={events.data.data} />
          <Pager total={events.data.total} limit={PAGE_SIZE} offset={offset} onChange={(next) => update({ page: next / PAGE_SIZE + 1 })} />
        </>
      ) : null}
    </>
  );
}

/**
 * A text filter that applies itself shortly after typing stops, and only when valid (an invalid
 * action would be refused by the API). It follows the URL when that changes by itself (back, Clear filters).
 */
function TextFilter({
  label,
  placeholder,
  value,
  suggestions,
  onCommit,
  validate,
}: {
  label: string;
  placeholder: string;
  value: string;
  suggestions?: string[];
  onCommit: (value: string) => void;
  validate: (value: string) => string | null;
}) {
  const [draft, setDraft] = useState(value);
  const [seen, setSeen] = useState(value);
  if (value !== seen) {
    setSeen(value);
    setDraft(value);
  }
  const [debounced] = useDebouncedValue(draft.trim(), 400);
  const error = validate(draft.trim());
  // biome-ignore lint/correctness/useExhaustiveDependencies: commit when the typed value settles, not when the URL catches up
  useEffect(() => {
    if (debounced !== value && !validate(debounced)) onCommit(debounced);
  }, [debounced]);
  const common = { label, placeholder, value: draft, error, maxLength: 300 };
  return suggestions ? (
    <Autocomplete {...common} data={suggestions} limit={12} onChange={setDraft} onOptionSubmit={(option) => setDraft(option)} comboboxProps={{ withinPortal: true }} />
  ) : (
    <TextInput {...common} onChange={(event) => setDraft(event.currentTarget.value)} />
  );
}

const formatEventTime = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

const describeTarget = (target: AuditEvent['target']) => (target ? `${target.type.replace(/_/g, ' ')}: ${target.name ?? target.id ?? '—'}` : '—');

function EventTable({ events }: { events: AuditEvent[] }) {
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setExpanded((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  return (
    <Table.ScrollContainer minWidth={960} type="native">
      <Table verticalSpacing="xs" highlightOnHover aria-label="Audit events">
        <Table.Thead>
          <Table.Tr>
            <Table.Th w={44}>
              <VisuallyHidden>Details</VisuallyHidden>
            </Table.Th>
            <Table.Th>Time</Table.Th>
            <Table.Th>Actor</Table.Th>
            <Table.Th>Action</Table.Th>
            <Table.Th>Target</Table.Th>
            <Table.Th>Outcome</Table.Th>
            <Table.Th>Source IP</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {events.map((event) => {
            const open = expanded.has(event.id);
            const detailsId = `audit-event-${event.id}`;
            return (
              <Fragment key={event.id}>
                <Table.Tr onClick={() => toggle(event.id)} style={{ cursor: 'pointer' }}>
                  <Table.Td>
                    <ActionIcon
                      variant="subtle"
                      color="gray"
                      aria-label={`${open ? 'Hide' : 'Show'} details of ${event.action} at ${formatEventTime(event.time)}`}
                      aria-expanded={open}
                      aria-controls={detailsId}
                      onClick={(click) => {
                        click.stopPropagation();
                        toggle(event.id);
                      }}
                    >
                      {open ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
                    </ActionIcon>
                  </Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatEventTime(event.time)}</Table.Td>
                  <Table.Td>
                    <Text size="sm">{event.actor.name ?? event.actor.id ?? '—'}</Text>
                    <Text size="xs" c="dimmed">
                      {ACTOR_TYPE_LABELS[event.actor.type]}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Code>{event.action}</Code>
                  </Table.Td>
                  <Table.Td maw={280}>
                    {/* Long ids (a signing key's) are cut here; the expanded row has them whole. */}
                    <Text size="sm" truncate="end" title={describeTarget(event.target)}>
                      {describeTarget(event.target)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={event.outcome === 'success' ? 'green' : 'red'} variant="light">
                      {event.outcome === 'success' ? 'Success' : 'Failure'}
                    </Badge>
                  </Table.Td>
                  <Table.Td ff="monospace">{event.source_ip ?? '—'}</Table.Td>
                </Table.Tr>
                {open ? (
                  <Table.Tr id={detailsId}>
                    <Table.Td />
                    <Table.Td colSpan={6}>
                      <EventDetails event={event} />
                    </Table.Td>
                  </Table.Tr>
                ) : null}
              </Fragment>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function EventDetails({ event }: { event: AuditEvent }) {
  const facts: [string, string][] = [
    ['Event ID', event.id],
    ['Actor', `${ACTOR_TYPE_LABELS[event.actor.type]} ${event.actor.name ?? ''}${event.actor.id ? ` (${event.actor.id})` : ''}`.trim()],
    ['Target', event.target ? `${describeTarget(event.target)}${event.target.id ? ` (${event.target.id})` : ''}` : '—'],
    ['User agent', event.user_agent ?? '—'],
  ];
  const hasDetails = Object.keys(event.details).length > 0;
  return (
    <Stack gap="xs" py="xs">
      <Stack gap={4} component="dl" m={0}>
        {facts.map(([label, value]) => (
          <Group key={label} gap="sm" wrap="nowrap" align="flex-start">
            <Text component="dt" size="sm" fw={500} w={110} style={{ flexShrink: 0 }}>
              {label}
            </Text>
            <Text component="dd" size="sm" m={0} style={{ wordBreak: 'break-word' }}>
              {value}
            </Text>
          </Group>
        ))}
      </Stack>
      <Text size="sm" fw={500}>
        Details
      </Text>
      {hasDetails ? (
        <Code block aria-label="Event details">
          {JSON.stringify(event.details, null, 2)}
        </Code>
      ) : (
        <Text size="sm" c="dimmed">
          No further details.
        </Text>
      )}
    </Stack>
  );
}
