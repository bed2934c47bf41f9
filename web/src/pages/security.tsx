import { PageHeader } from '../components/ui.tsx';

export function SecurityPage() {
  return <PageHeader title="SecurityPage" description="Not built yet." />;
}
