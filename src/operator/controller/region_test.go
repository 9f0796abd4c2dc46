package controller

// Against a real kube-apiserver and etcd (controller-runtime's envtest; KUBEBUILDER_ASSETS names
// the folder with both binaries): the Region CRD as the bundle ships it, the reconciler running
// in a manager with its watches, and Node objects standing in for kubelets.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"civostack.io/operator/api/v1alpha1"
)

// The CRDs civostack applies, read from the bundle's templates (they have no template variables).
const (
	crdTemplate       = "../../../templates/operator/crd.yaml.hbs"
	tenantCRDTemplate = "../../../templates/operator/tenantcluster-crd.yaml.hbs"
)

func TestRegionAgainstAPIServer(t *testing.T) {
	cfg := startAPIServer(t, crdTemplate)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	scheme := runtime.NewScheme()
	must(t, corev1.AddToScheme(scheme))
	must(t, eventsv1.AddToScheme(scheme))
	must(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme}) // uncached: what the API server says
	must(t, err)

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	must(t, err)
	r := &RegionReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder(FieldOwner), Requeue: time.Minute}
	must(t, r.SetupWithManager(mgr))
	stopped := make(chan struct{})
	defer func() { cancel(); <-stopped }() // before env.Stop: deferred calls run last first
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	// r1-n1 already carries a label and a taint of someone else's; r1-n2 waits for its CNI;
	// r2-n1 has not joined; stray-1 is in the cluster but not in the Region.
	createNode(t, ctx, c, "r1-n1", corev1.ConditionTrue, "", "", func(n *corev1.Node) {
		n.Labels = map[string]string{"team": "storage"}
		n.Spec.Taints = []corev1.Taint{{Key: "example.com/maintenance", Effect: corev1.TaintEffectNoSchedule}}
	})
	createNode(t, ctx, c, "r1-n2", corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready", nil)
	createNode(t, ctx, c, "stray-1", corev1.ConditionTrue, "", "", nil)
	region := &v1alpha1.Region{
		ObjectMeta: metav1.ObjectMeta{Name: "lab"},
		Spec: v1alpha1.RegionSpec{Region: "lab", Nodes: []v1alpha1.RegionNode{
			{Name: "r1-n1", Rack: "r1", Role: "control-plane", SKU: "gp-small",
				Labels: map[string]string{"storage.example.com/pool": "fast"},
				Taints: []v1alpha1.Taint{{Key: "civostack.io/dedicated", Value: "infra", Effect: corev1.TaintEffectNoSchedule}}},
			{Name: "r1-n2", Rack: "r1", Role: "worker", SKU: "gp-small"},
			{Name: "r2-n1", Rack: "r2", Role: "worker", SKU: "gp-large"},
		}},
	}
	must(t, c.Create(ctx, region))

	t.Run("labels and taints the nodes that joined, and leaves others' alone", func(t *testing.T) {
		eventually(t, "r1-n1 and r1-n2 labelled", func() bool {
			return hasLabels(getNode(t, ctx, c, "r1-n1"), map[string]string{
				"topology.kubernetes.io/region": "lab", "topology.kubernetes.io/zone": "r1",
				"node-role.kubernetes.io/control-plane": "", "civostack.io/role": "control-plane",
				"civostack.io/rack": "r1", "civostack.io/sku": "gp-small",
				"storage.example.com/pool": "fast", "team": "storage",
			}) && hasLabels(getNode(t, ctx, c, "r1-n2"), map[string]string{
				"topology.kubernetes.io/zone": "r1", "node-role.kubernetes.io/worker": "", "civostack.io/sku": "gp-small",
			})
		})
		n1 := getNode(t, ctx, c, "r1-n1")
		// The API server's admission adds node.kubernetes.io/not-ready at creation: it stays too.
		for _, want := range []corev1.Taint{
			{Key: "example.com/maintenance", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule},
			{Key: "civostack.io/dedicated", Value: "infra", Effect: corev1.TaintEffectNoSchedule},
		} {
			if !hasTaint(n1, want) {
				t.Errorf("r1-n1 taints = %+v, want %+v among them", n1.Spec.Taints, want)
			}
		}
		if !managedBy(n1, FieldOwner) {
			t.Errorf("r1-n1 has no fields managed by %s: %+v", FieldOwner, n1.ManagedFields)
		}
		if stray := getNode(t, ctx, c, "stray-1"); len(stray.Labels) != 0 {
			t.Errorf("stray-1 was labelled: %v", stray.Labels)
		}
	})

	t.Run("says which nodes are missing, not Ready and unexpected", func(t *testing.T) {
		var got v1alpha1.Region
		eventually(t, "status for 2 of 3 nodes present", func() bool {
			must(t, c.Get(ctx, client.ObjectKey{Name: "lab"}, &got))
			return got.Status.Nodes.Present == 2 && meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionLabelled)
		})
		wantNodes := v1alpha1.NodesStatus{Expected: 3, Present: 2, Ready: 1,
			Missing: []string{"r2-n1"}, Unexpected: []string{"stray-1"}, NotReady: []string{"r1-n2"}}
		if !reflect.DeepEqual(got.Status.Nodes, wantNodes) {
			t.Errorf("status.nodes = %+v, want %+v", got.Status.Nodes, wantNodes)
		}
		if got.Status.ObservedGeneration != got.Generation {
			t.Errorf("observedGeneration = %d, want %d", got.Status.ObservedGeneration, got.Generation)
		}
		notReady := "1 of 3 nodes Ready; not in the cluster: r2-n1; not Ready: r1-n2 (KubeletNotReady: container runtime network not ready)"
		expectCondition(t, got, v1alpha1.ConditionLabelled, metav1.ConditionTrue, ReasonLabelled,
			"2 of 3 nodes joined and carry their labels and taints")
		expectCondition(t, got, v1alpha1.ConditionNodesReady, metav1.ConditionFalse, ReasonNodesMissing, notReady)
		expectCondition(t, got, v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonNodesMissing,
			notReady+"; in the cluster but not in the manifest: stray-1")
	})

	t.Run("names only the unexpected node once the others are Ready", func(t *testing.T) {
		setReady(t, ctx, c, "r1-n2", corev1.ConditionTrue)
		createNode(t, ctx, c, "r2-n1", corev1.ConditionTrue, "", "", nil)
		got := waitCondition(t, ctx, c, v1alpha1.ConditionNodesReady, metav1.ConditionTrue)
		expectCondition(t, got, v1alpha1.ConditionNodesReady, metav1.ConditionTrue, ReasonAllNodesReady, "all 3 nodes are Ready")
		expectCondition(t, got, v1alpha1.ConditionReady, metav1.ConditionFalse, ReasonUnexpectedNodes,
			"in the cluster but not in the manifest: stray-1")
	})

	t.Run("is Ready once the cluster matches the Region", func(t *testing.T) {
		must(t, c.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "stray-1"}}))
		got := waitCondition(t, ctx, c, v1alpha1.ConditionReady, metav1.ConditionTrue)
		expectCondition(t, got, v1alpha1.ConditionReady, metav1.ConditionTrue, ReasonRegionReady,
			"all 3 nodes are in the cluster, labelled and Ready")
		if l := getNode(t, ctx, c, "r2-n1").Labels["topology.kubernetes.io/zone"]; l != "r2" {
			t.Errorf("r2-n1 zone label = %q, want r2", l)
		}
	})

	t.Run("records Events on the Region", func(t *testing.T) {
		eventually(t, "NodeLabelled and RegionReady events", func() bool {
			var list eventsv1.EventList
			must(t, c.List(ctx, &list))
			seen := map[string]bool{}
			for _, e := range list.Items {
				if e.Regarding.Kind == "Region" && e.Regarding.Name == "lab" {
					seen[e.Reason] = true
				}
			}
			return seen["NodeLabelled"] && seen[ReasonRegionReady]
		})
	})

	t.Run("writes nothing when reconciling a region that is already right", func(t *testing.T) {
		before := versions(t, ctx, c)
		eventually(t, "the cache to catch up", func() bool { return reflect.DeepEqual(versions(t, ctx, mgr.GetClient()), before) })
		var writes atomic.Int32
		quiet := &RegionReconciler{Client: countingClient{mgr.GetClient(), &writes}, Recorder: r.Recorder, Requeue: time.Minute}
		for i := 0; i < 2; i++ {
			if _, err := quiet.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "lab"}}); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
		}
		if n := writes.Load(); n != 0 {
			t.Errorf("reconciling a right region made %d write(s)", n)
		}
		if after := versions(t, ctx, c); !reflect.DeepEqual(before, after) {
			t.Errorf("resourceVersions changed: before %v, after %v", before, after)
		}
	})
}

// startAPIServer runs kube-apiserver and etcd with the CRD of template until the test ends, and
// the operator's log into the test's output if it fails; it skips without KUBEBUILDER_ASSETS.
func startAPIServer(t *testing.T, template string) *rest.Config {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: it names a folder with kube-apiserver and etcd")
	}
	var logs lockedBuffer
	ctrl.SetLogger(zap.New(zap.WriteTo(&logs)))
	env := &envtest.Environment{CRDs: []*apiextensionsv1.CustomResourceDefinition{readCRD(t, template)}}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping kube-apiserver and etcd: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log:\n%s", logs.String())
		}
	})
	return cfg
}

func readCRD(t *testing.T, template string) *apiextensionsv1.CustomResourceDefinition {
	data, err := os.ReadFile(filepath.FromSlash(template))
	must(t, err)
	var crd apiextensionsv1.CustomResourceDefinition
	must(t, yaml.UnmarshalStrict(data, &crd))
	return &crd
}

func createNode(t *testing.T, ctx context.Context, c client.Client, name string, ready corev1.ConditionStatus,
	reason, message string, edit func(*corev1.Node)) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if edit != nil {
		edit(node)
	}
	must(t, c.Create(ctx, node))
	postReady(t, ctx, c, node, ready, reason, message)
}

func setReady(t *testing.T, ctx context.Context, c client.Client, name string, ready corev1.ConditionStatus) {
	t.Helper()
	postReady(t, ctx, c, getNode(t, ctx, c, name), ready, "KubeletReady", "kubelet is posting ready status")
}

// postReady sets the node's Ready condition as a kubelet does, by a patch of its status: the
// operator may label the node between this test's read and its write, and an update carrying the
// read's resourceVersion would then be refused with a conflict.
func postReady(t *testing.T, ctx context.Context, c client.Client, node *corev1.Node, ready corev1.ConditionStatus,
	reason, message string) {
	t.Helper()
	base := node.DeepCopy()
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: reason, Message: message,
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	must(t, c.Status().Patch(ctx, node, client.MergeFrom(base)))
}

func getNode(t *testing.T, ctx context.Context, c client.Client, name string) *corev1.Node {
	t.Helper()
	var node corev1.Node
	must(t, c.Get(ctx, client.ObjectKey{Name: name}, &node))
	return &node
}

func hasLabels(node *corev1.Node, want map[string]string) bool {
	for k, v := range want {
		if have, ok := node.Labels[k]; !ok || have != v {
			return false
		}
	}
	return true
}

func hasTaint(node *corev1.Node, want corev1.Taint) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == want.Key && t.Value == want.Value && t.Effect == want.Effect {
			return true
		}
	}
	return false
}

func managedBy(node *corev1.Node, manager string) bool {
	for _, f := range node.ManagedFields {
		if f.Manager == manager {
			return true
		}
	}
	return false
}

func waitCondition(t *testing.T, ctx context.Context, c client.Client, kind string, status metav1.ConditionStatus) v1alpha1.Region {
	t.Helper()
	var got v1alpha1.Region
	eventually(t, kind+"="+string(status), func() bool {
		must(t, c.Get(ctx, client.ObjectKey{Name: "lab"}, &got))
		cond := meta.FindStatusCondition(got.Status.Conditions, kind)
		return cond != nil && cond.Status == status
	})
	return got
}

func expectCondition(t *testing.T, region v1alpha1.Region, kind string, status metav1.ConditionStatus, reason, message string) {
	t.Helper()
	expectConditionIn(t, region.Status.Conditions, kind, status, reason, message)
}

func expectConditionIn(t *testing.T, conditions []metav1.Condition, kind string, status metav1.ConditionStatus, reason, message string) {
	t.Helper()
	cond := meta.FindStatusCondition(conditions, kind)
	if cond == nil {
		t.Errorf("no %s condition in %+v", kind, conditions)
		return
	}
	if cond.Status != status || cond.Reason != reason || cond.Message != message {
		t.Errorf("%s = %s/%s %q\n want %s/%s %q", kind, cond.Status, cond.Reason, cond.Message, status, reason, message)
	}
}

// versions is the resourceVersion of the Region and of every node.
func versions(t *testing.T, ctx context.Context, c client.Reader) map[string]string {
	t.Helper()
	var nodes corev1.NodeList
	must(t, c.List(ctx, &nodes))
	var region v1alpha1.Region
	must(t, c.Get(ctx, client.ObjectKey{Name: "lab"}, &region))
	out := map[string]string{"region/lab": region.ResourceVersion}
	for _, n := range nodes.Items {
		out["node/"+n.Name] = n.ResourceVersion
	}
	return out
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// countingClient counts every write the reconciler asks for, whether or not it changes anything.
type countingClient struct {
	client.Client
	writes *atomic.Int32
}

func (c countingClient) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
	c.writes.Add(1)
	return c.Client.Patch(ctx, obj, p, opts...)
}

func (c countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.writes.Add(1)
	return c.Client.Update(ctx, obj, opts...)
}

func (c countingClient) Status() client.SubResourceWriter {
	return countingStatus{c.Client.Status(), c.writes}
}

type countingStatus struct {
	client.SubResourceWriter
	writes *atomic.Int32
}

func (s countingStatus) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	s.writes.Add(1)
	return s.SubResourceWriter.Patch(ctx, obj, p, opts...)
}

func (s countingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.writes.Add(1)
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

// lockedBuffer holds the operator's log, written from its goroutines, until the test ends.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
