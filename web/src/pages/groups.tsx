import { PageHeader } from '../components/ui.tsx';

export function GroupsPage() {
  return <PageHeader title="GroupsPage" description="Not built yet." />;
}

export function GroupPage() {
  return <PageHeader title="GroupPage" description="Not built yet." />;
}
