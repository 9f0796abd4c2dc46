package controller

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"civostack.io/operator/api/v1alpha1"
)

// tenantRoots are the tenant's CAs and service-account key: made once, kept in <name>-ca, never
// made again while that Secret stands (a new CA would lock out every kubeconfig handed out).
type tenantRoots struct {
	ca, etcdCA   keyPair
	saKey, saPub []byte
}

// ensureRoots reads the tenant's CA Secret, or makes it. It is created, never updated: two
// reconciles racing to make it both try Create, and the loser reads the winner's.
func (r *TenantReconciler) ensureRoots(ctx context.Context, tc *v1alpha1.TenantCluster) (tenantRoots, error) {
	n := namesOf(tc)
	var s corev1.Secret
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: tc.Namespace, Name: n.ca()}, &s)
	if err == nil {
		roots, err := parseRoots(&s)
		if err != nil {
			return tenantRoots{}, damagedPKI{err}
		}
		return roots, nil
	}
	if !apierrors.IsNotFound(err) {
		return tenantRoots{}, err
	}
	now := r.now()
	ca, err := newCA(fmt.Sprintf("%s/%s kubernetes CA", tc.Namespace, tc.Name), now)
	if err != nil {
		return tenantRoots{}, err
	}
	etcdCA, err := newCA(fmt.Sprintf("%s/%s etcd CA", tc.Namespace, tc.Name), now)
	if err != nil {
		return tenantRoots{}, err
	}
	saKey, saPub, err := newServiceAccountKey()
	if err != nil {
		return tenantRoots{}, err
	}
	caKey, err := ca.keyPEM()
	if err != nil {
		return tenantRoots{}, err
	}
	etcdKey, err := etcdCA.keyPEM()
	if err != nil {
		return tenantRoots{}, err
	}
	s = corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{
		"ca.crt": ca.certPEM(), "ca.key": caKey, "etcd-ca.crt": etcdCA.certPEM(), "etcd-ca.key": etcdKey,
		"sa.key": saKey, "sa.pub": saPub,
	}}
	s.Name, s.Namespace, s.Labels = n.ca(), tc.Namespace, tenantLabels(tc, "pki")
	if err := r.own(tc, &s); err != nil {
		return tenantRoots{}, err
	}
	if err := r.Client.Create(ctx, &s, client.FieldOwner(FieldOwner)); err != nil {
		return tenantRoots{}, err // AlreadyExists included: the next reconcile reads it
	}
	return tenantRoots{ca: ca, etcdCA: etcdCA, saKey: saKey, saPub: saPub}, nil
}

// damagedPKI is a CA Secret that is there but cannot be read.
type damagedPKI struct{ error }

func parseRoots(s *corev1.Secret) (tenantRoots, error) {
	ca, err := parseKeyPair(s.Data["ca.crt"], s.Data["ca.key"])
	if err != nil {
		return tenantRoots{}, fmt.Errorf("Secret %s: ca.crt/ca.key: %w", s.Name, err)
	}
	etcdCA, err := parseKeyPair(s.Data["etcd-ca.crt"], s.Data["etcd-ca.key"])
	if err != nil {
		return tenantRoots{}, fmt.Errorf("Secret %s: etcd-ca.crt/etcd-ca.key: %w", s.Name, err)
	}
	if len(s.Data["sa.key"]) == 0 || len(s.Data["sa.pub"]) == 0 {
		return tenantRoots{}, fmt.Errorf("Secret %s: sa.key or sa.pub is empty", s.Name)
	}
	return tenantRoots{ca: ca, etcdCA: etcdCA, saKey: s.Data["sa.key"], saPub: s.Data["sa.pub"]}, nil
}

// leafIn returns the leaf stored in data under certKey/keyKey when it is still right, else a new one.
func leafIn(data map[string][]byte, certKey, keyKey string, ca keyPair, spec leafSpec, now time.Time) (keyPair, error) {
	if old, err := parseKeyPair(data[certKey], data[keyKey]); err == nil && leafStillGood(old, ca, spec, now) == nil {
		return old, nil
	}
	return issue(ca, spec, now)
}

// putLeaf stores a leaf's certificate and key in data.
func putLeaf(data map[string][]byte, certKey, keyKey string, leaf keyPair) error {
	key, err := leaf.keyPEM()
	if err != nil {
		return err
	}
	data[certKey], data[keyKey] = leaf.certPEM(), key
	return nil
}

func serverUsage() []x509.ExtKeyUsage { return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }
func clientUsage() []x509.ExtKeyUsage { return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }

// apiServerCertSpec: every name a client may use for the tenant's API — inside the tenant (the
// kubernetes Service, its first service address), inside the region (the Service by name and
// ClusterIP), from outside (the endpoint host), and the pod itself.
func apiServerCertSpec(tc *v1alpha1.TenantCluster, svc *corev1.Service, endpointHost string) leafSpec {
	n := namesOf(tc)
	dns := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
		n.apiServer(), n.apiServer() + "." + n.namespace, n.apiServer() + "." + n.namespace + ".svc",
		n.apiServer() + "." + n.namespace + ".svc.cluster.local", "localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	if p, err := netip.ParsePrefix(tc.Spec.Network.ServiceCIDR); err == nil {
		ips = append(ips, net.IP(p.Addr().Next().AsSlice()))
	}
	if ip := net.ParseIP(svc.Spec.ClusterIP); ip != nil {
		ips = append(ips, ip)
	}
	if endpointHost != "" {
		if ip := net.ParseIP(endpointHost); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, endpointHost)
		}
	}
	return leafSpec{commonName: "kube-apiserver", dnsNames: dns, ips: dedupeIPs(ips), usages: serverUsage()}
}

func dedupeIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		seen := false
		for _, o := range out {
			seen = seen || o.Equal(ip)
		}
		if !seen {
			out = append(out, ip)
		}
	}
	return out
}

func etcdCertSpec(tc *v1alpha1.TenantCluster) leafSpec {
	n := namesOf(tc)
	dns := []string{n.etcd() + "." + n.namespace + ".svc"}
	for i := int32(0); i < tc.Spec.ControlPlane.Replicas; i++ {
		dns = append(dns, n.etcdMember(i))
	}
	dns = append(dns, "localhost")
	// Serving clients and peers, and a client of the other members.
	return leafSpec{commonName: n.etcd(), dnsNames: dns, ips: []net.IP{net.ParseIP("127.0.0.1")},
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
}

func etcdCertsData(old map[string][]byte, tc *v1alpha1.TenantCluster, roots tenantRoots, now time.Time) (map[string][]byte, error) {
	leaf, err := leafIn(old, "tls.crt", "tls.key", roots.etcdCA, etcdCertSpec(tc), now)
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{"ca.crt": roots.etcdCA.certPEM()}
	return data, putLeaf(data, "tls.crt", "tls.key", leaf)
}

func apiServerCertsData(old map[string][]byte, tc *v1alpha1.TenantCluster, roots tenantRoots, svc *corev1.Service,
	endpointHost string, now time.Time) (map[string][]byte, error) {
	serving, err := leafIn(old, "tls.crt", "tls.key", roots.ca, apiServerCertSpec(tc, svc, endpointHost), now)
	if err != nil {
		return nil, err
	}
	etcdClientLeaf, err := leafIn(old, "etcd-client.crt", "etcd-client.key", roots.etcdCA,
		leafSpec{commonName: "kube-apiserver-etcd-client", usages: clientUsage()}, now)
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{"ca.crt": roots.ca.certPEM(), "etcd-ca.crt": roots.etcdCA.certPEM(),
		"sa.key": roots.saKey, "sa.pub": roots.saPub}
	if err := putLeaf(data, "tls.crt", "tls.key", serving); err != nil {
		return nil, err
	}
	return data, putLeaf(data, "etcd-client.crt", "etcd-client.key", etcdClientLeaf)
}

// kubeconfigFor is a kubeconfig for one user of the tenant's API at server, with a client
// certificate: the stored one when it is still right for this CA and server, else a new one.
func kubeconfigFor(old []byte, tc *v1alpha1.TenantCluster, ca keyPair, server string, user leafSpec, now time.Time) ([]byte, error) {
	clusterName := tc.Namespace + "-" + tc.Name
	if cfg, err := clientcmd.Load(old); err == nil && len(old) > 0 {
		cluster, auth := cfg.Clusters[clusterName], cfg.AuthInfos[user.commonName]
		if cluster != nil && auth != nil && cluster.Server == server && string(cluster.CertificateAuthorityData) == string(ca.certPEM()) {
			if leaf, err := parseKeyPair(auth.ClientCertificateData, auth.ClientKeyData); err == nil && leafStillGood(leaf, ca, user, now) == nil {
				return old, nil
			}
		}
	}
	leaf, err := issue(ca, user, now)
	if err != nil {
		return nil, err
	}
	key, err := leaf.keyPEM()
	if err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca.certPEM()}
	cfg.AuthInfos[user.commonName] = &clientcmdapi.AuthInfo{ClientCertificateData: leaf.certPEM(), ClientKeyData: key}
	cfg.Contexts[clusterName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user.commonName}
	cfg.CurrentContext = clusterName
	return clientcmd.Write(*cfg)
}

// The tenant's users: its own controller-manager and scheduler (by their well-known names, which
// the tenant API's default RBAC binds), and the admin the tenant's kubeconfig Secret carries.
var (
	controllerManagerUser = leafSpec{commonName: "system:kube-controller-manager", usages: clientUsage()}
	schedulerUser         = leafSpec{commonName: "system:kube-scheduler", usages: clientUsage()}
	adminUser             = leafSpec{commonName: "civostack:tenant-admin", organization: []string{"system:masters"}, usages: clientUsage()}
)

// The controller-manager and the scheduler share the API server's pod: they reach it on localhost.
const inPodServer = "https://127.0.0.1:6443"

func kubeconfigsData(old map[string][]byte, tc *v1alpha1.TenantCluster, roots tenantRoots, now time.Time) (map[string][]byte, error) {
	cm, err := kubeconfigFor(old["controller-manager.conf"], tc, roots.ca, inPodServer, controllerManagerUser, now)
	if err != nil {
		return nil, err
	}
	sched, err := kubeconfigFor(old["scheduler.conf"], tc, roots.ca, inPodServer, schedulerUser, now)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"controller-manager.conf": cm, "scheduler.conf": sched}, nil
}

func adminKubeconfigData(old map[string][]byte, tc *v1alpha1.TenantCluster, roots tenantRoots, server string, now time.Time) (map[string][]byte, error) {
	conf, err := kubeconfigFor(old["kubeconfig"], tc, roots.ca, server, adminUser, now)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"kubeconfig": conf}, nil
}
