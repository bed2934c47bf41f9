import { AppShell, Badge, Burger, Group, Menu, NavLink, ScrollArea, Text, UnstyledButton } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconApps, IconChevronDown, IconFileSearch, IconFingerprint, IconLockAccess, IconLogout, IconRoute, IconSettings, IconShieldLock, IconUser, IconUsersGroup } from '@tabler/icons-react';
import { NavLink as RouterLink, Outlet, useLocation } from 'react-router';
import { signOut } from './auth.ts';
import { useSession } from './session.tsx';
import { ROLE_LABELS } from './types.ts';

const NAV = [
  { to: '/users', label: 'Users', icon: IconUser },
  { to: '/groups', label: 'User Groups', icon: IconUsersGroup },
  { to: '/apps', label: 'SSO Applications', icon: IconApps },
  { to: '/identity-providers', label: 'Identity Providers', icon: IconFingerprint, permission: 'settings' as const },
  { to: '/routing-policies', label: 'Routing Policies', icon: IconRoute, permission: 'settings' as const },
  { to: '/policies', label: 'Access Policies', icon: IconLockAccess, permission: 'settings' as const },
  { to: '/security', label: 'Security', icon: IconShieldLock },
  { to: '/audit', label: 'Audit Log', icon: IconFileSearch },
  { to: '/settings', label: 'Settings', icon: IconSettings, permission: 'settings' as const },
];

/** The frame around every screen: navigation on the left (a drawer on narrow windows), the person at the top right. */
export function Shell() {
  const { me, can } = useSession();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="lg">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <img src={`${import.meta.env.BASE_URL}favicon.svg`} alt="" width={28} height={28} />
            <Text fw={700} size="lg">
              Gatehouse
            </Text>
            <Text c="dimmed" visibleFrom="xs">
              Admin Console
            </Text>
          </Group>
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <UnstyledButton aria-label="Account menu">
                <Group gap={6} wrap="nowrap">
                  <Text size="sm" fw={500}>
                    {me.user.username}
                  </Text>
                  <Badge variant="light" visibleFrom="sm">
                    {ROLE_LABELS[me.role]}
                  </Badge>
                  <IconChevronDown size={14} />
                </Group>
              </UnstyledButton>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Label>
                Signed in as {me.user.email} ({ROLE_LABELS[me.role]})
              </Menu.Label>
              <Menu.Item leftSection={<IconLogout size={16} />} onClick={() => void signOut()}>
                Sign out
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" aria-label="Main navigation">
        <ScrollArea>
          {NAV.filter((item) => !item.permission || can(item.permission)).map((item) => (
            <NavLink
              key={item.to}
              component={RouterLink}
              to={item.to}
              label={item.label}
              leftSection={<item.icon size={18} />}
              active={location.pathname === item.to || location.pathname.startsWith(`${item.to}/`)}
              onClick={close}
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
