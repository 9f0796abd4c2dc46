package controller

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

// TenantConfig is what the region tells the operator about itself (flags the bundle sets from
// civostack's Kubernetes artifacts and the plan): which versions a tenant may ask for and where
// their images are, the region's own networks, and where clients reach a tenant's API.
type TenantConfig struct {
	// Versions built in this region (v1.35.4, ...): the control-plane images exist for these only.
	Versions []string
	// Registry of the control-plane images: <Registry>/kube-apiserver:<version> and so on.
	Registry string
	// EtcdImage is the etcd image of this region's artifacts.
	EtcdImage string
	// RegionNetworks are the region's pod, service and node networks, by name; a tenant's
	// networks may not overlap any.
	RegionNetworks []NamedPrefix
	// EndpointHost is the address clients reach a tenant's NodePort at (the region's API VIP).
	EndpointHost string
}

type NamedPrefix struct {
	Name   string
	Prefix netip.Prefix
}

func (c TenantConfig) image(component, version string) string {
	return fmt.Sprintf("%s/%s:%s", c.Registry, component, version)
}

var versionRE = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

// ParseVersions reads --tenant-versions: a comma-separated list of vMAJOR.MINOR.PATCH.
func ParseVersions(s string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if !versionRE.MatchString(v) {
			return nil, fmt.Errorf("--tenant-versions: %q is not a Kubernetes version such as v1.35.4", v)
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil
}

// ParseNetworks reads --region-networks: name=CIDR pairs, comma-separated, such as
// pods=10.244.0.0/16,services=10.96.0.0/12,nodes=10.0.0.0/24.
func ParseNetworks(s string) ([]NamedPrefix, error) {
	var out []NamedPrefix
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, cidr, ok := strings.Cut(pair, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--region-networks: %q is not name=CIDR (such as pods=10.244.0.0/16)", pair)
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil || p != p.Masked() {
			return nil, fmt.Errorf("--region-networks: %s=%s is not a network in CIDR form (such as 10.244.0.0/16)", name, cidr)
		}
		out = append(out, NamedPrefix{Name: name, Prefix: p})
	}
	return out, nil
}
