package controller

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"civostack.io/operator/api/v1alpha1"
)

// MaxTenantName keeps every name made from a tenant's within Kubernetes' limits: the etcd
// StatefulSet's pods carry a controller-revision-hash label "<name>-etcd-<10 characters>", and a
// label value is at most 63 characters.
const MaxTenantName = 40

// A DNS-1035 label: Service names must be one, and they are made from the tenant's name.
var tenantNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// Owners become a label value.
var ownerRE = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)

// validateTenant says everything wrong with a TenantCluster, each naming its field and what would
// be right. The CRD's schema refuses most of this at the API already; the controller checks again
// because a CRD applied from elsewhere (or an older one) may not, and because the region's
// versions and networks are known only here.
func validateTenant(tc *v1alpha1.TenantCluster, cfg TenantConfig) []string {
	var out []string
	if len(tc.Name) > MaxTenantName || !tenantNameRE.MatchString(tc.Name) {
		out = append(out, fmt.Sprintf("metadata.name %q is not a DNS label of at most %d characters starting with a letter (such as team-a)", tc.Name, MaxTenantName))
	}
	if o := tc.Spec.Owner; len(o) > 63 || !ownerRE.MatchString(o) {
		out = append(out, fmt.Sprintf("spec.owner %q: the customer's name or id, at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", o))
	}
	switch {
	case len(cfg.Versions) == 0:
		out = append(out, fmt.Sprintf("spec.version %s: the operator was started without --tenant-versions, so no version is built for tenants", tc.Spec.Version))
	case !slices.Contains(cfg.Versions, tc.Spec.Version):
		out = append(out, fmt.Sprintf("spec.version %q is not built in this region (built: %s)", tc.Spec.Version, strings.Join(cfg.Versions, ", ")))
	}
	if cfg.EtcdImage == "" {
		out = append(out, "the operator was started without --tenant-etcd-image, so tenants have no etcd to run")
	}
	if r := tc.Spec.ControlPlane.Replicas; r < 1 || r%2 == 0 || r > 7 {
		out = append(out, fmt.Sprintf("spec.controlPlane.replicas %d: etcd needs an odd number from 1 to 7 (1, 3, 5 or 7)", r))
	}
	if w := tc.Spec.Workers; w < 0 || w > 1000 {
		out = append(out, fmt.Sprintf("spec.workers %d: from 0 to 1000", w))
	}
	pods, podErr := tenantPrefix("spec.network.podCIDR", tc.Spec.Network.PodCIDR)
	services, svcErr := tenantPrefix("spec.network.serviceCIDR", tc.Spec.Network.ServiceCIDR)
	for _, e := range []string{podErr, svcErr} {
		if e != "" {
			out = append(out, e)
		}
	}
	if podErr == "" && svcErr == "" && pods.Overlaps(services) {
		out = append(out, fmt.Sprintf("spec.network: podCIDR %s and serviceCIDR %s overlap; give them separate ranges", pods, services))
	}
	for _, own := range []struct {
		field  string
		prefix netip.Prefix
		ok     bool
	}{{"spec.network.podCIDR", pods, podErr == ""}, {"spec.network.serviceCIDR", services, svcErr == ""}} {
		if !own.ok {
			continue
		}
		for _, region := range cfg.RegionNetworks {
			if own.prefix.Overlaps(region.Prefix) {
				out = append(out, fmt.Sprintf("%s %s overlaps the region's %s network %s; choose a range outside it", own.field, own.prefix, region.Name, region.Prefix))
			}
		}
	}
	return out
}

func tenantPrefix(field, cidr string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p != p.Masked() {
		return p, fmt.Sprintf("%s %q is not a network in CIDR form (such as 10.100.0.0/16)", field, cidr)
	}
	if !p.Addr().Is4() {
		return p, fmt.Sprintf("%s %s: only IPv4 networks for now", field, p)
	}
	// The service range's first address becomes the tenant's kubernetes Service: at least a /28.
	if p.Bits() > 28 {
		return p, fmt.Sprintf("%s %s is smaller than a /28", field, p)
	}
	return p, ""
}
