export { UserPage } from './users/detail.tsx';
export { UsersPage } from './users/list.tsx';
