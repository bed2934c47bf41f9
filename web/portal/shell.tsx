import { Anchor, AppShell, Box, Burger, Divider, Group, Menu, NavLink, Text, UnstyledButton } from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import { IconApps, IconChevronDown, IconDevices, IconExternalLink, IconLogout, IconShieldLock, IconUser, IconUserCircle } from '@tabler/icons-react';
import { useEffect, useRef } from 'react';
import { NavLink as RouterLink, Outlet, useLocation } from 'react-router';
import { auth } from './auth.ts';
import { nameOf, useProfile } from './session.tsx';

export const NAV = [
  { to: '/', label: 'Apps', title: 'Your apps', icon: IconApps },
  { to: '/profile', label: 'Profile', title: 'Profile', icon: IconUser },
  { to: '/security', label: 'Security', title: 'Security', icon: IconShieldLock },
  { to: '/sessions', label: 'Sessions and apps', title: 'Sessions and apps', icon: IconDevices },
] as const;

/**
 * The frame around every screen: the organisation at the top left, the person at the top right,
 * the screens on the left (behind a burger on a phone). After moving to another screen, focus goes
 * to its heading, so that a screen reader announces where the person is.
 */
export function Shell() {
  const profile = useProfile();
  const [opened, { toggle, close }] = useDisclosure();
  // On a phone the folded navigation is only moved off screen: hide it from the keyboard and screen readers too.
  const phone = useMediaQuery('(max-width: 47.99em)');
  const navigationHidden = phone === true && !opened;
  const location = useLocation();
  const name = nameOf(profile.user);
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);
  const screen = NAV.find((item) => item.to === location.pathname);
  useEffect(() => {
    document.title = `${screen?.title ?? 'Not found'} · ${profile.organisation_name || 'Gatehouse'}`;
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [screen, profile.organisation_name]);
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="lg">
      <Anchor href="#main" className="skip-link">
        Skip to content
      </Anchor>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap" miw={0}>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" aria-expanded={opened} aria-controls="portal-navigation" />
            <img src="/favicon.svg" alt="" width={28} height={28} />
            <Text fw={700} size="lg" truncate>
              {profile.organisation_name || 'Gatehouse'}
            </Text>
          </Group>
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <UnstyledButton aria-label={`${name} (account menu)`}>
                <Group gap={8} wrap="nowrap">
                  <IconUserCircle size={28} aria-hidden />
                  <Text size="sm" fw={500} visibleFrom="xs" truncate maw={220}>
                    {name}
                  </Text>
                  <IconChevronDown size={14} aria-hidden />
                </Group>
              </UnstyledButton>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Label>Signed in as {profile.user.email || profile.user.username}</Menu.Label>
              {profile.administrator ? (
                <Menu.Item component="a" href="/admin/" leftSection={<IconExternalLink size={16} />}>
                  Admin console
                </Menu.Item>
              ) : null}
              <Menu.Item leftSection={<IconLogout size={16} />} onClick={() => void auth.signOut()}>
                Sign out
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" aria-label="Portal" id="portal-navigation" style={navigationHidden ? { visibility: 'hidden' } : undefined}>
        {NAV.map((item) => (
          <NavLink
            key={item.to}
            component={RouterLink}
            to={item.to}
            label={item.label}
            leftSection={<item.icon size={18} aria-hidden />}
            active={location.pathname === item.to}
            aria-current={location.pathname === item.to ? 'page' : undefined}
            onClick={close}
          />
        ))}
        {profile.administrator ? (
          <Box mt="auto">
            <Divider my="sm" />
            <NavLink href="/admin/" label="Admin console" description="Manage the directory" leftSection={<IconExternalLink size={18} aria-hidden />} />
          </Box>
        ) : null}
      </AppShell.Navbar>
      <AppShell.Main id="main" ref={main}>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
