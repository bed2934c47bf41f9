import { Card, Group, SimpleGrid, Text, TextInput, VisuallyHidden } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { useDeferredValue, useState } from 'react';
import { EmptyState, ErrorAlert } from '../../src/components/ui.tsx';
import { type PortalApp, portalApi } from '../api.ts';
import { PageTitle, PortalAppIcon } from '../components.tsx';
import { useProfile } from '../session.tsx';

/** More than this many tiles and a search box helps. */
const SEARCH_FROM = 7;

function matches(app: PortalApp, query: string): boolean {
  const needle = query.trim().toLocaleLowerCase();
  return !needle || app.label.toLocaleLowerCase().includes(needle) || app.description.toLocaleLowerCase().includes(needle);
}

/**
 * A tile per app the person may open: its Login URL (with iss, so the app knows where to send them),
 * in a new tab, so that the portal stays where it was. The Gatehouse session signs them in to the
 * app without asking again.
 */
function AppTile({ app }: { app: PortalApp }) {
  return (
    <Card component="a" href={app.launch_url} target="_blank" rel="noopener noreferrer" withBorder padding="md" className="app-tile" data-app-tile>
      <Group wrap="nowrap" align="flex-start" gap="md">
        <PortalAppIcon app={app} />
        <div style={{ minWidth: 0 }}>
          <Text fw={600} lineClamp={1}>
            {app.label}
          </Text>
          {app.description ? (
            <Text size="sm" c="dimmed" lineClamp={2}>
              {app.description}
            </Text>
          ) : null}
          <VisuallyHidden> (opens in a new tab)</VisuallyHidden>
        </div>
      </Group>
    </Card>
  );
}

export function AppsPage() {
  const profile = useProfile();
  const apps = useQuery({ queryKey: ['me-apps'], queryFn: portalApi.apps });
  const [search, setSearch] = useState('');
  const query = useDeferredValue(search);
  const all = apps.data?.data ?? [];
  const shown = all.filter((app) => matches(app, query));
  const organisation = profile.organisation_name || 'your organisation';
  return (
    <>
      <PageTitle title="Your apps" description="Open an app: you are already signed in to it." />
      <ErrorAlert error={apps.error} title="Your apps could not be loaded" />
      {all.length >= SEARCH_FROM ? (
        <TextInput
          type="search"
          label="Search apps"
          placeholder="Name or description"
          leftSection={<IconSearch size={16} aria-hidden />}
          value={search}
          onChange={(event) => setSearch(event.currentTarget.value)}
          maw={360}
          mb="lg"
        />
      ) : null}
      {apps.isSuccess && all.length === 0 ? (
        <EmptyState title="You have no apps yet">
          {`The administrators of ${organisation} decide which apps you can use. Ask them to give you access to the apps you need.`}
        </EmptyState>
      ) : null}
      {all.length > 0 && shown.length === 0 ? <EmptyState title={`No app matches “${query.trim()}”`}>Try part of the app’s name.</EmptyState> : null}
      {shown.length > 0 ? (
        <SimpleGrid component="ul" cols={{ base: 1, xs: 2, md: 3, xl: 4 }} spacing="md" p={0} m={0} style={{ listStyle: 'none' }} aria-label="Apps">
          {shown.map((app) => (
            <li key={app.id}>
              <AppTile app={app} />
            </li>
          ))}
        </SimpleGrid>
      ) : null}
    </>
  );
}
