// Identity Providers (issue 10): the list, "Add Identity Provider" (Entra preset or any OpenID provider), and one provider's page.
export { IdentityProviderPage, NewIdentityProviderPage } from './identity-providers/detail.tsx';
export { IdentityProvidersPage } from './identity-providers/list.tsx';
