package controller

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"civostack.io/operator/api/v1alpha1"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestValidateTenant(t *testing.T) {
	if got := validateTenant(newTenant("ns", "alpha", 3), testTenantConfig); len(got) != 0 {
		t.Fatalf("a right TenantCluster is refused: %v", got)
	}
	for _, tc := range []struct {
		what string
		edit func(*v1alpha1.TenantCluster)
		cfg  func(*TenantConfig)
		want string
	}{
		{"even replicas", func(tc *v1alpha1.TenantCluster) { tc.Spec.ControlPlane.Replicas = 4 }, nil,
			"spec.controlPlane.replicas 4: etcd needs an odd number from 1 to 7 (1, 3, 5 or 7)"},
		{"no replicas", func(tc *v1alpha1.TenantCluster) { tc.Spec.ControlPlane.Replicas = 0 }, nil, "spec.controlPlane.replicas 0"},
		{"a name with a dot", func(tc *v1alpha1.TenantCluster) { tc.Name = "a.b" }, nil, `metadata.name "a.b" is not a DNS label`},
		{"a name starting with a digit", func(tc *v1alpha1.TenantCluster) { tc.Name = "1a" }, nil, `metadata.name "1a"`},
		{"a long name", func(tc *v1alpha1.TenantCluster) { tc.Name = strings.Repeat("a", 41) }, nil, "at most 40 characters"},
		{"an owner that is no label value", func(tc *v1alpha1.TenantCluster) { tc.Spec.Owner = "acme inc" }, nil, `spec.owner "acme inc"`},
		{"an unbuilt version", func(tc *v1alpha1.TenantCluster) { tc.Spec.Version = "v1.34.0" }, nil,
			`spec.version "v1.34.0" is not built in this region (built: v1.35.4)`},
		{"no versions at all", nil, func(c *TenantConfig) { c.Versions = nil }, "started without --tenant-versions"},
		{"no etcd image", nil, func(c *TenantConfig) { c.EtcdImage = "" }, "started without --tenant-etcd-image"},
		{"a service network in the region's", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.ServiceCIDR = "10.0.0.128/28" }, nil,
			"spec.network.serviceCIDR 10.0.0.128/28 overlaps the region's nodes network 10.0.0.0/24"},
		{"a pod network around the region's", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.PodCIDR = "10.0.0.0/8" }, nil,
			"spec.network.podCIDR 10.0.0.0/8 overlaps the region's pods network 10.244.0.0/16"},
		{"overlapping own networks", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.ServiceCIDR = "172.16.1.0/24" }, nil,
			"podCIDR 172.16.0.0/16 and serviceCIDR 172.16.1.0/24 overlap"},
		{"host bits", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.PodCIDR = "172.16.0.1/16" }, nil,
			`spec.network.podCIDR "172.16.0.1/16" is not a network in CIDR form`},
		{"IPv6", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.PodCIDR = "fd00::/64" }, nil, "only IPv4"},
		{"a tiny service network", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.ServiceCIDR = "172.17.0.0/30" }, nil, "smaller than a /28"},
		{"negative workers", func(tc *v1alpha1.TenantCluster) { tc.Spec.Workers = -1 }, nil, "spec.workers -1"},
	} {
		tenant := newTenant("ns", "alpha", 3)
		cfg := testTenantConfig
		if tc.edit != nil {
			tc.edit(tenant)
		}
		if tc.cfg != nil {
			tc.cfg(&cfg)
		}
		got := strings.Join(validateTenant(tenant, cfg), "; ")
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want one saying %q", tc.what, got, tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	if v, err := ParseVersions("v1.35.4, v1.34.2"); err != nil || strings.Join(v, ",") != "v1.34.2,v1.35.4" {
		t.Errorf("ParseVersions = %v, %v", v, err)
	}
	if _, err := ParseVersions("1.35"); err == nil || !strings.Contains(err.Error(), `"1.35" is not a Kubernetes version`) {
		t.Errorf("ParseVersions(1.35) error = %v", err)
	}
	n, err := ParseNetworks("pods=10.244.0.0/16,nodes=10.0.0.0/24")
	if err != nil || len(n) != 2 || n[1].Name != "nodes" || n[1].Prefix != mustPrefix("10.0.0.0/24") {
		t.Errorf("ParseNetworks = %v, %v", n, err)
	}
	for _, bad := range []string{"10.0.0.0/24", "pods=10.0.0.1/24", "pods=nope"} {
		if _, err := ParseNetworks(bad); err == nil {
			t.Errorf("ParseNetworks(%q) accepted it", bad)
		}
	}
}

// A stored certificate is kept while it is right, and issued again (from the same CA) when the
// names it must carry change or its end is near.
func TestAPIServerCertificateFollowsItsNames(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	tenant := newTenant("ns", "alpha", 1)
	ca, err := newCA("test", now)
	must(t, err)
	etcdCA, err := newCA("test etcd", now)
	must(t, err)
	roots := tenantRoots{ca: ca, etcdCA: etcdCA, saKey: []byte("k"), saPub: []byte("p")}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "alpha-apiserver"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20"}}
	first, err := apiServerCertsData(nil, tenant, roots, svc, "192.0.2.10", now)
	must(t, err)
	same, err := apiServerCertsData(first, tenant, roots, svc, "192.0.2.10", now.Add(time.Hour))
	must(t, err)
	if string(same["tls.crt"]) != string(first["tls.crt"]) || string(same["tls.key"]) != string(first["tls.key"]) {
		t.Errorf("a right serving certificate was issued again")
	}
	svc.Spec.ClusterIP = "10.96.0.30"
	moved, err := apiServerCertsData(first, tenant, roots, svc, "192.0.2.10", now.Add(time.Hour))
	must(t, err)
	if string(moved["tls.crt"]) == string(first["tls.crt"]) {
		t.Errorf("the serving certificate was kept though the Service address changed")
	}
	if string(moved["etcd-client.crt"]) != string(first["etcd-client.crt"]) {
		t.Errorf("the etcd client certificate was issued again though nothing it names changed")
	}
	late, err := apiServerCertsData(moved, tenant, roots, svc, "192.0.2.10", now.Add(leafValidity-leafRenewBefore+time.Hour))
	must(t, err)
	if string(late["etcd-client.crt"]) == string(moved["etcd-client.crt"]) {
		t.Errorf("a certificate near its end was kept")
	}
}
