import { PageHeader } from '../components/ui.tsx';

export function AppsPage() {
  return <PageHeader title="AppsPage" description="Not built yet." />;
}

export function NewAppPage() {
  return <PageHeader title="NewAppPage" description="Not built yet." />;
}

export function AppPage() {
  return <PageHeader title="AppPage" description="Not built yet." />;
}
