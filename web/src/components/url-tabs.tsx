import { Tabs } from '@mantine/core';
import type { ReactNode } from 'react';
import { useSearchParams } from 'react-router';

/**
 * The open tab, kept in `?tab=` so that a reload, a shared link or Back opens the same tab. The
 * first tab leaves the address bare; other query parameters are kept. Replaces rather than pushes:
 * switching tabs is not a step back.
 */
export function useTabParam<T extends string>(tabs: readonly T[], fallback: T): [T, (tab: string | null) => void] {
  const [params, setParams] = useSearchParams();
  const requested = params.get('tab');
  const tab = tabs.find((name) => name === requested) ?? fallback;
  const select = (next: string | null) =>
    setParams(
      (current) => {
        const updated = new URLSearchParams(current);
        if (next && next !== fallback) updated.set('tab', next);
        else updated.delete('tab');
        return updated;
      },
      { replace: true },
    );
  return [tab, select];
}

export interface UrlTab {
  value: string;
  label: string;
  icon: ReactNode;
  /** Mounted only while its tab is open. */
  panel: ReactNode;
}

/** A page's tabs (a user's, a group's, Security's), with the open one in the address; the first is the default. */
export function UrlTabs({ tabs }: { tabs: readonly UrlTab[] }) {
  const values = tabs.map((tab) => tab.value);
  const [open, setOpen] = useTabParam(values, values[0] ?? '');
  return (
    <Tabs value={open} onChange={setOpen} keepMounted={false}>
      <Tabs.List mb="lg">
        {tabs.map(({ value, label, icon }) => (
          <Tabs.Tab key={value} value={value} leftSection={icon}>
            {label}
          </Tabs.Tab>
        ))}
      </Tabs.List>
      {tabs.map(({ value, panel }) => (
        <Tabs.Panel key={value} value={value}>
          {panel}
        </Tabs.Panel>
      ))}
    </Tabs>
  );
}
