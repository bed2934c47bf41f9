// The SSO Applications screens live in ./apps/: the list, "+ Add New Application", and an app's own page.
export { AppPage } from './apps/detail.tsx';
export { AppsPage } from './apps/list.tsx';
export { NewAppPage } from './apps/new.tsx';
