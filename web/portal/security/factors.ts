import { useQuery } from '@tanstack/react-query';
import { portalApi } from '../api.ts';

/** The person's second factors (GET /api/me/factors), shared by the rows of the Security page. */
export function useFactors() {
  return useQuery({ queryKey: ['factors'], queryFn: portalApi.factors });
}
