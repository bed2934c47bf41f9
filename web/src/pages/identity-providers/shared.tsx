import { Alert, Anchor, Group } from '@mantine/core';
import { IconArrowLeft, IconLock } from '@tabler/icons-react';
import { Link } from 'react-router';
import { PageHeader } from '../../components/ui.tsx';
import { useSession } from '../../session.tsx';
import { ROLE_LABELS } from '../../types.ts';

/** Query keys: everything about identity providers starts with 'identity-providers'. */
export const idpKeys = {
  all: ['identity-providers'] as const,
  list: ['identity-providers', 'list'] as const,
  detail: (id: string) => ['identity-providers', id] as const,
};
export const policyKeys = { all: ['routing-policies'] as const };

/** The groups to choose from in a multi-select: the API's largest page, which covers any directory this console targets. */
export const ALL_GROUPS_QUERY = { limit: 1000, offset: 0 } as const;

/**
 * Identity providers and routing policies decide how people sign in, so only Administrators with
 * Billing may see them (the API refuses everyone else, as for Settings).
 */
export function BillingAdminsOnly({ title, what }: { title: string; what: string }) {
  const { me } = useSession();
  return (
    <>
      <PageHeader title={title} />
      <Alert color="blue" icon={<IconLock size={18} />} title={`Only Administrators with Billing can manage ${what}`} maw={640}>
        {`${what[0]?.toUpperCase()}${what.slice(1)} decide where people sign in, so they are managed by an Administrator with Billing. Your role is ${ROLE_LABELS[me.role]}: ask one of them if something here needs changing.`}
      </Alert>
    </>
  );
}

export function BackToIdentityProviders() {
  return (
    <Anchor component={Link} to="/identity-providers" size="sm">
      <Group gap={4} wrap="nowrap">
        <IconArrowLeft size={14} />
        Identity Providers
      </Group>
    </Anchor>
  );
}
