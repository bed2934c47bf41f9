import { PageHeader } from '../components/ui.tsx';

export function AuditPage() {
  return <PageHeader title="AuditPage" description="Not built yet." />;
}
