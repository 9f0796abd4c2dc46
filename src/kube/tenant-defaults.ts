// Where `civostack tenant` puts TenantClusters when no --namespace is given.
export const DEFAULT_TENANT_NAMESPACE = 'civostack-tenants';
