import { Button, Code, Loader, Stack, Table, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconPlus, IconSearch } from '@tabler/icons-react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { client, unwrap } from '../../api.ts';
import { AppName, AppStatusBadge } from '../../components/directory.tsx';
import { EmptyState, ErrorAlert, PageHeader, Pager } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import { AUTH_METHOD_LABELS } from '../../types.ts';

const PAGE_SIZE = 20;

function AddAppButton() {
  return (
    <Button component={Link} to="/apps/new" leftSection={<IconPlus size={16} />}>
      Add New Application
    </Button>
  );
}

/** /apps — every SSO application, searchable by label; the search and page live in the address. */
export function AppsPage() {
  const canWrite = useCan('directory');
  const [params, setParams] = useSearchParams();
  const search = params.get('search') ?? '';
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const [text, setText] = useState(search);
  const [debounced] = useDebouncedValue(text.trim(), 300);

  // Only typing changes the address: going back to an older search must not be undone by the box.
  const lastTyped = useRef(debounced);
  useEffect(() => {
    if (debounced === lastTyped.current) return;
    lastTyped.current = debounced;
    setParams(debounced ? { search: debounced } : {}, { replace: true });
  }, [debounced, setParams]);

  const apps = useQuery({
    queryKey: ['apps', 'list', { search, offset, limit: PAGE_SIZE }],
    queryFn: () => unwrap(client.GET('/api/apps', { params: { query: { limit: PAGE_SIZE, offset, search } } })),
    placeholderData: keepPreviousData,
  });
  const setOffset = (next: number) => setParams({ ...(search ? { search } : {}), ...(next ? { offset: String(next) } : {}) });

  const nothingYet = apps.data?.total === 0 && !search;
  return (
    <Stack gap={0}>
      <PageHeader title="SSO Applications" description="Applications whose people sign in through Gatehouse with OpenID Connect." actions={canWrite && !nothingYet ? <AddAppButton /> : null} />
      {nothingYet ? (
        <EmptyState title="No SSO applications yet" action={canWrite ? <AddAppButton /> : null}>
          An SSO application is an app (a website, gateway or tool) that lets people sign in with their directory account. Add it as a Custom OIDC App, paste its Client ID, secret and
          Gatehouse’s issuer into the app, and bind the user groups that may use it.
          {canWrite ? '' : ' Ask an administrator who may change the directory to add one.'}
        </EmptyState>
      ) : (
        <>
          <TextInput
            label="Search applications"
            placeholder="Display label"
            leftSection={<IconSearch size={16} />}
            value={text}
            onChange={(event) => setText(event.currentTarget.value)}
            maw={360}
            mb="md"
          />
          <ErrorAlert error={apps.error} title="The applications could not be loaded" />
          {apps.isPending ? <Loader aria-label="Loading applications" /> : null}
          {apps.data && apps.data.data.length === 0 ? <EmptyState title={`No application matches "${search}"`}>Try part of the display label, or clear the search.</EmptyState> : null}
          {apps.data && apps.data.data.length > 0 ? (
            <>
              <Table.ScrollContainer minWidth={720}>
                <Table highlightOnHover verticalSpacing="sm" aria-label="SSO applications">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Status</Table.Th>
                      <Table.Th>Application</Table.Th>
                      <Table.Th>Client ID</Table.Th>
                      <Table.Th>Client authentication</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {apps.data.data.map((app) => (
                      <Table.Tr key={app.id}>
                        <Table.Td>
                          <AppStatusBadge active={app.active} />
                        </Table.Td>
                        <Table.Td>
                          <AppName app={app} />
                        </Table.Td>
                        <Table.Td>
                          <Code>{app.client_id}</Code>
                        </Table.Td>
                        <Table.Td>{AUTH_METHOD_LABELS[app.auth_method]}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
              <Pager total={apps.data.total} limit={PAGE_SIZE} offset={offset} onChange={setOffset} />
            </>
          ) : null}
        </>
      )}
    </Stack>
  );
}
