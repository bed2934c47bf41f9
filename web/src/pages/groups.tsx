// User Groups: the list (groups/list.tsx) and one group's page with its tabs (groups/detail.tsx).
export { GroupPage } from './groups/detail.tsx';
export { GroupsPage } from './groups/list.tsx';
