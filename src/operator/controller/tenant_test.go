package controller

// TenantCluster against a real kube-apiserver and etcd (envtest): the CRD as the bundle ships it,
// the reconciler in a manager with its watches. envtest runs no kubelet and no controller-manager,
// so the test posts StatefulSet and Deployment status as those would, and nothing is garbage
// collected: what deletion removes, the operator removed itself.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"civostack.io/operator/api/v1alpha1"
)

var testTenantConfig = TenantConfig{
	Versions:  []string{"v1.35.4"},
	Registry:  "registry.k8s.io",
	EtcdImage: "registry.k8s.io/etcd:3.6.16-0",
	RegionNetworks: []NamedPrefix{
		{"pods", mustPrefix("10.244.0.0/16")}, {"services", mustPrefix("10.96.0.0/12")}, {"nodes", mustPrefix("10.0.0.0/24")}},
	EndpointHost: "192.0.2.10",
}

func TestTenantClusterAgainstAPIServer(t *testing.T) {
	cfg := startAPIServer(t, tenantCRDTemplate)
	ctx := context.Background()
	scheme := tenantScheme(t)
	c, err := client.New(cfg, client.Options{Scheme: scheme}) // uncached: what the API server says
	must(t, err)
	for _, ns := range []string{"team-a", "team-b", "team-c", "team-d"} {
		must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	stop := startTenantManager(t, cfg, scheme, nil)
	defer func() { stop() }()

	alpha := newTenant("team-a", "alpha", 3)
	must(t, c.Create(ctx, alpha))

	t.Run("makes etcd, the control plane and its Service, owned by the TenantCluster", func(t *testing.T) {
		got := waitTenant(t, ctx, c, alpha, "the endpoint in status", func(tc *v1alpha1.TenantCluster) bool {
			return tc.Status.Endpoint != "" && tc.Status.KubeconfigSecret != ""
		})
		for _, obj := range []client.Object{
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "alpha-ca"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "alpha-etcd-certs"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "alpha-apiserver-certs"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "alpha-control-plane-kubeconfigs"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "alpha-admin-kubeconfig"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "alpha-apiserver"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "alpha-etcd"}},
			&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "alpha-etcd"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "alpha-control-plane"}},
		} {
			must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: obj.GetName()}, obj))
			if !metav1.IsControlledBy(obj, got) {
				t.Errorf("%T %s is not controlled by TenantCluster alpha: %+v", obj, obj.GetName(), obj.GetOwnerReferences())
			}
			if obj.GetLabels()[LabelOwner] != "acme" || obj.GetLabels()[LabelTenant] != "alpha" {
				t.Errorf("%T %s labels = %v", obj, obj.GetName(), obj.GetLabels())
			}
		}
		if !slices.Contains(got.Finalizers, TenantFinalizer) {
			t.Errorf("finalizers = %v, want %s", got.Finalizers, TenantFinalizer)
		}

		var sts appsv1.StatefulSet
		must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "alpha-etcd"}, &sts))
		if *sts.Spec.Replicas != 3 || sts.Spec.ServiceName != "alpha-etcd" {
			t.Errorf("etcd replicas %d, serviceName %q", *sts.Spec.Replicas, sts.Spec.ServiceName)
		}
		etcd := sts.Spec.Template.Spec.Containers[0]
		if etcd.Image != "registry.k8s.io/etcd:3.6.16-0" {
			t.Errorf("etcd image %q", etcd.Image)
		}
		wantInitial := "--initial-cluster=alpha-etcd-0=https://alpha-etcd-0.alpha-etcd.team-a.svc:2380," +
			"alpha-etcd-1=https://alpha-etcd-1.alpha-etcd.team-a.svc:2380,alpha-etcd-2=https://alpha-etcd-2.alpha-etcd.team-a.svc:2380"
		if !slices.Contains(etcd.Command, wantInitial) {
			t.Errorf("etcd command %v lacks %s", etcd.Command, wantInitial)
		}

		var deploy appsv1.Deployment
		must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "alpha-control-plane"}, &deploy))
		if *deploy.Spec.Replicas != 3 {
			t.Errorf("control plane replicas %d, want 3", *deploy.Spec.Replicas)
		}
		images := map[string]string{}
		for _, ctr := range deploy.Spec.Template.Spec.Containers {
			images[ctr.Name] = ctr.Image
		}
		for _, component := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			if want := "registry.k8s.io/" + component + ":v1.35.4"; images[component] != want {
				t.Errorf("%s image %q, want %q", component, images[component], want)
			}
		}
		api := deploy.Spec.Template.Spec.Containers[0].Command
		for _, want := range []string{"--service-cluster-ip-range=172.17.0.0/16",
			"--etcd-servers=https://alpha-etcd-0.alpha-etcd.team-a.svc:2379,https://alpha-etcd-1.alpha-etcd.team-a.svc:2379,https://alpha-etcd-2.alpha-etcd.team-a.svc:2379"} {
			if !slices.Contains(api, want) {
				t.Errorf("kube-apiserver command %v lacks %s", api, want)
			}
		}

		var svc corev1.Service
		must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "alpha-apiserver"}, &svc))
		if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].NodePort == 0 {
			t.Fatalf("API Service %+v, want a NodePort", svc.Spec)
		}
		if want := fmt.Sprintf("https://192.0.2.10:%d", svc.Spec.Ports[0].NodePort); got.Status.Endpoint != want {
			t.Errorf("endpoint %q, want %q", got.Status.Endpoint, want)
		}
	})

	t.Run("issues certificates for every name of its API, from the tenant's own CA", func(t *testing.T) {
		waitMade(t, ctx, c, alpha)
		ca := caOf(t, ctx, c, "team-a", "alpha")
		var svc corev1.Service
		must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "alpha-apiserver"}, &svc))
		serving := certIn(t, secretData(t, ctx, c, "team-a", "alpha-apiserver-certs")["tls.crt"])
		verify(t, serving, ca, x509.ExtKeyUsageServerAuth)
		for _, ip := range []string{svc.Spec.ClusterIP, "172.17.0.1", "192.0.2.10", "127.0.0.1"} {
			if !slices.ContainsFunc(serving.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
				t.Errorf("API serving certificate IPs %v lack %s", serving.IPAddresses, ip)
			}
		}
		for _, name := range []string{"kubernetes.default.svc", "alpha-apiserver.team-a.svc"} {
			if !slices.Contains(serving.DNSNames, name) {
				t.Errorf("API serving certificate names %v lack %s", serving.DNSNames, name)
			}
		}
		etcdData := secretData(t, ctx, c, "team-a", "alpha-etcd-certs")
		if _, ok := etcdData["ca.key"]; ok {
			t.Errorf("the etcd Secret holds a CA key")
		}
		etcdCert := certIn(t, etcdData["tls.crt"])
		verify(t, etcdCert, certIn(t, etcdData["ca.crt"]), x509.ExtKeyUsageServerAuth)
		for i := 0; i < 3; i++ {
			if name := fmt.Sprintf("alpha-etcd-%d.alpha-etcd.team-a.svc", i); !slices.Contains(etcdCert.DNSNames, name) {
				t.Errorf("etcd certificate names %v lack %s", etcdCert.DNSNames, name)
			}
		}
		if certIn(t, etcdData["ca.crt"]).Equal(ca) {
			t.Errorf("etcd and the API share a CA")
		}

		got := getTenant(t, ctx, c, alpha)
		server, user := adminOf(t, ctx, c, "team-a", "alpha")
		if server != got.Status.Endpoint {
			t.Errorf("admin kubeconfig server %q, want %q", server, got.Status.Endpoint)
		}
		verify(t, user, ca, x509.ExtKeyUsageClientAuth)
		if !slices.Equal(user.Subject.Organization, []string{"system:masters"}) {
			t.Errorf("admin organization %v", user.Subject.Organization)
		}
	})

	t.Run("reports conditions from the StatefulSet and Deployment status", func(t *testing.T) {
		got := waitMade(t, ctx, c, alpha)
		expectTenantCondition(t, got, v1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, ReasonEtcdNotReady,
			"etcd: 0 of 3 members Ready; control plane: 0 of 3 API server pods available")
		expectTenantCondition(t, got, v1alpha1.ConditionAvailable, metav1.ConditionFalse, ReasonNoQuorum,
			"etcd has 0 of the 2 members its quorum needs Ready")

		postStatefulSet(t, ctx, c, "team-a", "alpha-etcd", 2)
		got = waitTenant(t, ctx, c, alpha, "no API server", func(tc *v1alpha1.TenantCluster) bool {
			return conditionReason(tc, v1alpha1.ConditionAvailable) == ReasonNoAPIServer
		})
		expectTenantCondition(t, got, v1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, ReasonEtcdNotReady,
			"etcd: 2 of 3 members Ready; control plane: 0 of 3 API server pods available")

		postDeployment(t, ctx, c, "team-a", "alpha-control-plane", 1)
		got = waitTenant(t, ctx, c, alpha, "Available", func(tc *v1alpha1.TenantCluster) bool {
			return meta.IsStatusConditionTrue(tc.Status.Conditions, v1alpha1.ConditionAvailable)
		})
		expectTenantCondition(t, got, v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonEtcdNotReady,
			"etcd: 2 of 3 members Ready; control plane: 1 of 3 API server pods available")

		postStatefulSet(t, ctx, c, "team-a", "alpha-etcd", 3)
		postDeployment(t, ctx, c, "team-a", "alpha-control-plane", 3)
		got = waitTenant(t, ctx, c, alpha, "Ready", func(tc *v1alpha1.TenantCluster) bool {
			return meta.IsStatusConditionTrue(tc.Status.Conditions, v1alpha1.ConditionReady)
		})
		expectTenantCondition(t, got, v1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, ReasonControlPlaneReady,
			"etcd: 3 of 3 members Ready; control plane: 3 of 3 API server pods available")
		for _, cond := range got.Status.Conditions {
			if cond.ObservedGeneration != got.Generation {
				t.Errorf("%s observedGeneration %d, want %d", cond.Type, cond.ObservedGeneration, got.Generation)
			}
		}
		if got.Status.ObservedGeneration != got.Generation {
			t.Errorf("status.observedGeneration %d, want %d", got.Status.ObservedGeneration, got.Generation)
		}
		eventually(t, "a TenantReady event", func() bool {
			var list eventsv1.EventList
			must(t, c.List(ctx, &list, client.InNamespace("team-a")))
			return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
				return e.Regarding.Kind == "TenantCluster" && e.Regarding.Name == "alpha" && e.Reason == ReasonTenantReady
			})
		})
	})

	beta := newTenant("team-b", "beta", 1)
	must(t, c.Create(ctx, beta))

	t.Run("gives each tenant its own CA and etcd", func(t *testing.T) {
		waitMade(t, ctx, c, alpha)
		waitMade(t, ctx, c, beta)
		caA, caB := caOf(t, ctx, c, "team-a", "alpha"), caOf(t, ctx, c, "team-b", "beta")
		_, userA := adminOf(t, ctx, c, "team-a", "alpha")
		_, userB := adminOf(t, ctx, c, "team-b", "beta")
		verify(t, userB, caB, x509.ExtKeyUsageClientAuth)
		// What beta's API server does with a client certificate: alpha's admin is a stranger there.
		if err := verifyErr(userA, caB, x509.ExtKeyUsageClientAuth); err == nil {
			t.Errorf("alpha's admin certificate verifies against beta's CA")
		}
		if err := verifyErr(userB, caA, x509.ExtKeyUsageClientAuth); err == nil {
			t.Errorf("beta's admin certificate verifies against alpha's CA")
		}
		var deploy appsv1.Deployment
		must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-b", Name: "beta-control-plane"}, &deploy))
		if want := "--etcd-servers=https://beta-etcd-0.beta-etcd.team-b.svc:2379"; !slices.Contains(deploy.Spec.Template.Spec.Containers[0].Command, want) {
			t.Errorf("beta's API server command %v lacks %s", deploy.Spec.Template.Spec.Containers[0].Command, want)
		}
	})

	t.Run("refuses at the API what the schema can see is wrong", func(t *testing.T) {
		for _, tc := range []struct {
			what string
			edit func(*v1alpha1.TenantCluster)
			want string
		}{
			{"even replicas", func(tc *v1alpha1.TenantCluster) { tc.Spec.ControlPlane.Replicas = 2 }, "must be odd"},
			{"no replicas", func(tc *v1alpha1.TenantCluster) { tc.Spec.ControlPlane.Replicas = 0 }, "should be greater than or equal to 1"},
			{"a name that is no DNS label", func(tc *v1alpha1.TenantCluster) { tc.Name = "a.b" }, "must be a DNS label"},
			{"a name too long", func(tc *v1alpha1.TenantCluster) { tc.Name = strings.Repeat("a", 41) }, "must be a DNS label"},
			{"a pod network that is not one", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.PodCIDR = "172.16.0.1/16" }, "podCIDR must be an IPv4 network"},
			{"overlapping pod and service networks", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.ServiceCIDR = "172.16.128.0/20" }, "overlap"},
		} {
			bad := newTenant("team-d", "bad", 1)
			tc.edit(bad)
			err := c.Create(ctx, bad)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: create returned %v, want Invalid saying %q", tc.what, err, tc.want)
			}
		}
	})

	t.Run("refuses what only the region knows, with nothing made", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			edit func(*v1alpha1.TenantCluster)
			want string
		}{
			{"unbuilt", func(tc *v1alpha1.TenantCluster) { tc.Spec.Version = "v1.99.0" },
				`spec.version "v1.99.0" is not built in this region (built: v1.35.4)`},
			{"collides", func(tc *v1alpha1.TenantCluster) { tc.Spec.Network.PodCIDR = "10.244.8.0/22" },
				"spec.network.podCIDR 10.244.8.0/22 overlaps the region's pods network 10.244.0.0/16; choose a range outside it"},
		} {
			bad := newTenant("team-d", tc.name, 1)
			tc.edit(bad)
			must(t, c.Create(ctx, bad))
			got := waitTenant(t, ctx, c, bad, "Ready=False", func(x *v1alpha1.TenantCluster) bool {
				return conditionReason(x, v1alpha1.ConditionReady) == ReasonInvalidSpec
			})
			expectTenantCondition(t, got, v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonInvalidSpec, tc.want)
			if left := madeFor(t, ctx, c, "team-d", tc.name); len(left) > 0 {
				t.Errorf("%s: made %v for a refused TenantCluster", tc.name, left)
			}
			if len(got.Finalizers) != 0 {
				t.Errorf("%s: finalizers %v on a refused TenantCluster", tc.name, got.Finalizers)
			}
		}
	})

	t.Run("deleting it removes everything it made", func(t *testing.T) {
		waitMade(t, ctx, c, alpha)
		waitMade(t, ctx, c, beta)
		if left := madeFor(t, ctx, c, "team-b", "beta"); len(left) != 9 {
			t.Fatalf("before deletion beta has %v, want its 5 Secrets, 2 Services, StatefulSet and Deployment", left)
		}
		must(t, c.Delete(ctx, beta))
		eventually(t, "beta gone", func() bool {
			err := c.Get(ctx, client.ObjectKeyFromObject(beta), &v1alpha1.TenantCluster{})
			return apierrors.IsNotFound(err)
		})
		if left := madeFor(t, ctx, c, "team-b", "beta"); len(left) > 0 {
			t.Errorf("left behind after deletion: %v", left)
		}
		// alpha is untouched.
		if left := madeFor(t, ctx, c, "team-a", "alpha"); len(left) != 9 {
			t.Errorf("alpha has %v after beta's deletion", left)
		}
	})

	t.Run("a controller stopped mid-create leaves what a new one finishes", func(t *testing.T) {
		stop()
		// This operator stops (its manager cancelled) at its fourth Create in team-c: two Services
		// and the CA Secret made, the certificates not yet.
		var stopNow context.CancelFunc
		var creates atomic.Int32
		crash := func(cl client.Client) client.Client {
			return stoppingClient{Client: cl, namespace: "team-c", creates: &creates, after: 3, stop: func() { stopNow() }}
		}
		stopNow = startTenantManager(t, cfg, scheme, crash)
		gamma := newTenant("team-c", "gamma", 1)
		must(t, c.Create(ctx, gamma))
		eventually(t, "the stopping operator's fourth Create", func() bool { return creates.Load() >= 4 })
		stopNow()
		if left := madeFor(t, ctx, c, "team-c", "gamma"); len(left) != 3 {
			t.Fatalf("the stopped operator made %v, want the 2 Services and the CA Secret only", left)
		}
		caBefore := secretData(t, ctx, c, "team-c", "gamma-ca")["ca.crt"]
		var svc corev1.Service
		must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-c", Name: "gamma-apiserver"}, &svc))

		stop = startTenantManager(t, cfg, scheme, nil)
		got := waitTenant(t, ctx, c, gamma, "the kubeconfig", func(tc *v1alpha1.TenantCluster) bool { return tc.Status.KubeconfigSecret != "" })
		eventually(t, "the Deployment", func() bool {
			return c.Get(ctx, client.ObjectKey{Namespace: "team-c", Name: "gamma-control-plane"}, &appsv1.Deployment{}) == nil
		})
		var again corev1.Service
		must(t, c.Get(ctx, client.ObjectKey{Namespace: "team-c", Name: "gamma-apiserver"}, &again))
		if again.UID != svc.UID || again.Spec.Ports[0].NodePort != svc.Spec.Ports[0].NodePort {
			t.Errorf("the API Service was made again (%s:%d, was %s:%d)", again.UID, again.Spec.Ports[0].NodePort, svc.UID, svc.Spec.Ports[0].NodePort)
		}
		ca := caOf(t, ctx, c, "team-c", "gamma")
		if !ca.Equal(certIn(t, caBefore)) {
			t.Errorf("the restarted operator made a new CA")
		}
		verify(t, certIn(t, secretData(t, ctx, c, "team-c", "gamma-apiserver-certs")["tls.crt"]), ca, x509.ExtKeyUsageServerAuth)
		_, user := adminOf(t, ctx, c, "team-c", "gamma")
		verify(t, user, ca, x509.ExtKeyUsageClientAuth)
		if want := fmt.Sprintf("https://192.0.2.10:%d", svc.Spec.Ports[0].NodePort); got.Status.Endpoint != want {
			t.Errorf("endpoint %q, want %q", got.Status.Endpoint, want)
		}
	})

	t.Run("writes nothing when reconciling a tenant that is already right", func(t *testing.T) {
		waitMade(t, ctx, c, alpha)
		before := tenantVersions(t, ctx, c, "team-a", "alpha")
		var writes atomic.Int32
		quiet := &TenantReconciler{Client: countingClient{c, &writes}, Recorder: nopRecorder{}, Config: testTenantConfig, Requeue: time.Minute}
		for i := 0; i < 2; i++ {
			if _, err := quiet.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(alpha)}); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
		}
		if n := writes.Load(); n != 0 {
			t.Errorf("reconciling a right tenant made %d write(s)", n)
		}
		if after := tenantVersions(t, ctx, c, "team-a", "alpha"); !slices.Equal(before, after) {
			t.Errorf("resourceVersions changed: before %v, after %v", before, after)
		}
	})
}

func tenantScheme(t *testing.T) *runtime.Scheme {
	scheme := runtime.NewScheme()
	must(t, corev1.AddToScheme(scheme))
	must(t, appsv1.AddToScheme(scheme))
	must(t, eventsv1.AddToScheme(scheme))
	must(t, v1alpha1.AddToScheme(scheme))
	return scheme
}

// startTenantManager runs a TenantReconciler in a manager of its own until the returned function
// is called (which waits for it to stop). wrap, if given, wraps the manager's client.
func startTenantManager(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, wrap func(client.Client) client.Client) context.CancelFunc {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers of this test run one after the other in one process.
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	must(t, err)
	cl := mgr.GetClient()
	if wrap != nil {
		cl = wrap(cl)
	}
	r := &TenantReconciler{Client: cl, Recorder: mgr.GetEventRecorder(FieldOwner), Config: testTenantConfig, Requeue: time.Minute}
	must(t, r.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	return func() {
		cancel()
		<-stopped
	}
}

func newTenant(namespace, name string, replicas int32) *v1alpha1.TenantCluster {
	return &v1alpha1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.TenantClusterSpec{Version: "v1.35.4", ControlPlane: v1alpha1.TenantControlPlane{Replicas: replicas},
			Workers: 2, Owner: "acme", Network: v1alpha1.TenantNetwork{PodCIDR: "172.16.0.0/16", ServiceCIDR: "172.17.0.0/16"}},
	}
}

// waitMade waits until everything is made for tc: its kubeconfig in status, its Deployment there.
func waitMade(t *testing.T, ctx context.Context, c client.Client, tc *v1alpha1.TenantCluster) *v1alpha1.TenantCluster {
	t.Helper()
	got := waitTenant(t, ctx, c, tc, "its kubeconfig", func(x *v1alpha1.TenantCluster) bool { return x.Status.KubeconfigSecret != "" })
	eventually(t, tc.Name+"'s Deployment", func() bool {
		key := client.ObjectKey{Namespace: tc.Namespace, Name: tc.Name + "-control-plane"}
		return c.Get(ctx, key, &appsv1.Deployment{}) == nil
	})
	return got
}

func getTenant(t *testing.T, ctx context.Context, c client.Client, tc *v1alpha1.TenantCluster) *v1alpha1.TenantCluster {
	t.Helper()
	var got v1alpha1.TenantCluster
	must(t, c.Get(ctx, client.ObjectKeyFromObject(tc), &got))
	return &got
}

func waitTenant(t *testing.T, ctx context.Context, c client.Client, tc *v1alpha1.TenantCluster, what string,
	ok func(*v1alpha1.TenantCluster) bool) *v1alpha1.TenantCluster {
	t.Helper()
	var got *v1alpha1.TenantCluster
	eventually(t, tc.Name+": "+what, func() bool {
		got = getTenant(t, ctx, c, tc)
		return ok(got)
	})
	return got
}

func conditionReason(tc *v1alpha1.TenantCluster, kind string) string {
	if cond := meta.FindStatusCondition(tc.Status.Conditions, kind); cond != nil {
		return cond.Reason
	}
	return ""
}

func expectTenantCondition(t *testing.T, tc *v1alpha1.TenantCluster, kind string, status metav1.ConditionStatus, reason, message string) {
	t.Helper()
	expectConditionIn(t, tc.Status.Conditions, kind, status, reason, message)
}

// postStatefulSet sets the StatefulSet's status as its controller would with `ready` pods Ready.
func postStatefulSet(t *testing.T, ctx context.Context, c client.Client, namespace, name string, ready int32) {
	t.Helper()
	var sts appsv1.StatefulSet
	must(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &sts))
	base := sts.DeepCopy()
	n := *sts.Spec.Replicas
	sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: n, CurrentReplicas: n,
		UpdatedReplicas: n, ReadyReplicas: ready, AvailableReplicas: ready}
	must(t, c.Status().Patch(ctx, &sts, client.MergeFrom(base)))
}

func postDeployment(t *testing.T, ctx context.Context, c client.Client, namespace, name string, available int32) {
	t.Helper()
	var d appsv1.Deployment
	must(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &d))
	base := d.DeepCopy()
	n := *d.Spec.Replicas
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: available, AvailableReplicas: available, UnavailableReplicas: n - available}
	must(t, c.Status().Patch(ctx, &d, client.MergeFrom(base)))
}

func secretData(t *testing.T, ctx context.Context, c client.Client, namespace, name string) map[string][]byte {
	t.Helper()
	var s corev1.Secret
	must(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s))
	return s.Data
}

func certIn(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("not a PEM certificate: %d bytes", len(data))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	return cert
}

func caOf(t *testing.T, ctx context.Context, c client.Client, namespace, name string) *x509.Certificate {
	t.Helper()
	return certIn(t, secretData(t, ctx, c, namespace, name+"-ca")["ca.crt"])
}

// adminOf reads the tenant's admin kubeconfig: its server and client certificate.
func adminOf(t *testing.T, ctx context.Context, c client.Client, namespace, name string) (string, *x509.Certificate) {
	t.Helper()
	conf, err := clientcmd.Load(secretData(t, ctx, c, namespace, name+"-admin-kubeconfig")["kubeconfig"])
	must(t, err)
	current := conf.Contexts[conf.CurrentContext]
	if current == nil {
		t.Fatalf("the admin kubeconfig has no current context")
	}
	return conf.Clusters[current.Cluster].Server, certIn(t, conf.AuthInfos[current.AuthInfo].ClientCertificateData)
}

func verifyErr(cert, ca *x509.Certificate, usage x509.ExtKeyUsage) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func verify(t *testing.T, cert, ca *x509.Certificate, usage x509.ExtKeyUsage) {
	t.Helper()
	if err := verifyErr(cert, ca, usage); err != nil {
		t.Errorf("%s does not verify against %s: %v", cert.Subject.CommonName, ca.Subject.CommonName, err)
	}
}

// madeFor lists the Secrets, Services, StatefulSets and Deployments labelled for the tenant.
func madeFor(t *testing.T, ctx context.Context, c client.Client, namespace, name string) []string {
	t.Helper()
	var out []string
	for _, list := range []client.ObjectList{&corev1.SecretList{}, &corev1.ServiceList{}, &appsv1.StatefulSetList{}, &appsv1.DeploymentList{}} {
		must(t, c.List(ctx, list, client.InNamespace(namespace)))
		items, err := meta.ExtractList(list)
		must(t, err)
		for _, item := range items {
			obj := item.(client.Object)
			if strings.HasPrefix(obj.GetName(), name+"-") || obj.GetLabels()[LabelTenant] == name {
				out = append(out, fmt.Sprintf("%T/%s", obj, obj.GetName()))
			}
		}
	}
	slices.Sort(out)
	return out
}

func tenantVersions(t *testing.T, ctx context.Context, c client.Client, namespace, name string) []string {
	t.Helper()
	out := []string{"tenant/" + getTenant(t, ctx, c, &v1alpha1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}).ResourceVersion}
	for _, list := range []client.ObjectList{&corev1.SecretList{}, &corev1.ServiceList{}, &appsv1.StatefulSetList{}, &appsv1.DeploymentList{}} {
		must(t, c.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{LabelTenant: name}))
		items, err := meta.ExtractList(list)
		must(t, err)
		for _, item := range items {
			obj := item.(client.Object)
			out = append(out, obj.GetName()+"/"+obj.GetResourceVersion())
		}
	}
	slices.Sort(out)
	return out
}

// stoppingClient stops the operator (cancels its manager) at Create number after+1, which fails,
// as if the process were killed at that moment.
type stoppingClient struct {
	client.Client
	namespace string
	creates   *atomic.Int32
	after     int32
	stop      func()
}

func (s stoppingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if obj.GetNamespace() == s.namespace && s.creates.Add(1) > s.after {
		go s.stop()
		return errors.New("the operator was stopped")
	}
	return s.Client.Create(ctx, obj, opts...)
}

func (s stoppingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if obj.GetNamespace() == s.namespace && s.creates.Load() > s.after {
		return errors.New("the operator was stopped")
	}
	return s.Client.Update(ctx, obj, opts...)
}

// nopRecorder drops Events: the quiet reconciler below must not write, and Events are writes.
type nopRecorder struct{}

func (nopRecorder) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {}
