// civostack-operator: keeps a region's Kubernetes nodes labelled as civostack planned them and
// reports, in each Region's status, which nodes are missing, not Ready or unexpected; and runs the
// control plane of each TenantCluster (a customer's cluster) as pods on the region's cluster.
package main

import (
	"flag"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"civostack.io/operator/api/v1alpha1"
	"civostack.io/operator/controller"
)

func main() {
	var metricsAddr, probeAddr string
	var leaderElect bool
	var requeue time.Duration
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "Address of the metrics endpoint, such as :8080; 0 turns it off.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader (a Lease in the operator's namespace) so several replicas can run.")
	flag.DurationVar(&requeue, "requeue-interval", 5*time.Minute, "How often each Region and TenantCluster is checked again without any event.")
	var versions, networks, registry, etcdImage, endpointHost string
	flag.StringVar(&versions, "tenant-versions", "", "Kubernetes versions built in this region, comma-separated (v1.35.4): the versions a TenantCluster may ask for.")
	flag.StringVar(&registry, "tenant-registry", "registry.k8s.io", "Registry of the tenant control-plane images (<registry>/kube-apiserver:<version>, ...).")
	flag.StringVar(&etcdImage, "tenant-etcd-image", "", "The etcd image tenants' etcd runs (registry.k8s.io/etcd:3.6.16-0).")
	flag.StringVar(&networks, "region-networks", "", "The region's own networks, name=CIDR comma-separated (pods=10.244.0.0/16,services=10.96.0.0/12,nodes=10.0.0.0/24): tenant networks may not overlap them.")
	flag.StringVar(&endpointHost, "tenant-endpoint-host", "", "Address clients reach tenant API NodePorts at (the region's API VIP); the Service's cluster IP when empty.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")
	tenantVersions, err := controller.ParseVersions(versions)
	if err != nil {
		setupLog.Error(err, "reading flags")
		os.Exit(2)
	}
	regionNetworks, err := controller.ParseNetworks(networks)
	if err != nil {
		setupLog.Error(err, "reading flags")
		os.Exit(2)
	}

	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := appsv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "civostack-operator.civostack.io",
	})
	if err != nil {
		setupLog.Error(err, "creating the manager")
		os.Exit(1)
	}
	r := &controller.RegionReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder(controller.FieldOwner),
		Requeue:  requeue,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "setting up the Region controller")
		os.Exit(1)
	}
	tenants := &controller.TenantReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder(controller.FieldOwner),
		Requeue:  requeue,
		Config: controller.TenantConfig{Versions: tenantVersions, Registry: registry, EtcdImage: etcdImage,
			RegionNetworks: regionNetworks, EndpointHost: endpointHost},
	}
	if err := tenants.SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "setting up the TenantCluster controller")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding healthz")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding readyz")
		os.Exit(1)
	}
	setupLog.Info("starting", "version", version)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "running the manager")
		os.Exit(1)
	}
}
