import { PageHeader } from '../components/ui.tsx';

export function UsersPage() {
  return <PageHeader title="UsersPage" description="Not built yet." />;
}

export function UserPage() {
  return <PageHeader title="UserPage" description="Not built yet." />;
}
