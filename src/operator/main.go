// civostack-operator: keeps a region's Kubernetes nodes labelled as civostack planned them and
// reports, in each Region's status, which nodes are missing, not Ready or unexpected.
package main

import (
	"flag"
	"os"
	"time"

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
	flag.DurationVar(&requeue, "requeue-interval", 5*time.Minute, "How often each Region is checked again without any event.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
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
