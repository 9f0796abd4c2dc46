// TenantCluster: the control plane of a customer's cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) run as pods on the region's cluster, with its own CAs,
// its own etcd, its API behind a Service, and its admin kubeconfig in a Secret.
package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"civostack.io/operator/api/v1alpha1"
)

// TenantFinalizer holds a TenantCluster until everything made for it is deleted: the operator
// deletes it all itself rather than count on the garbage collector (which a region whose
// controller-manager is down, or a test's bare API server, does not run).
const TenantFinalizer = "civostack.io/tenant-cleanup"

// Reasons of the TenantCluster's conditions.
const (
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonPKIInvalid        = "PKIInvalid"
	ReasonWaitingForService = "WaitingForService"
	ReasonEtcdNotReady      = "EtcdNotReady"
	ReasonAPIServerNotReady = "APIServerNotReady"
	ReasonControlPlaneReady = "ControlPlaneReady"
	ReasonNoQuorum          = "EtcdNoQuorum"
	ReasonNoAPIServer       = "NoAPIServer"
	ReasonAvailable         = "Available"
	ReasonTenantReady       = "TenantReady"
	ReasonDeleting          = "Deleting"
)

type TenantReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Config   TenantConfig
	// Requeue is how often a TenantCluster is looked at again without any event (certificates
	// near their end are issued again then).
	Requeue time.Duration
	// Now is the clock certificates are made by; time.Now when nil.
	Now func() time.Time
}

func (r *TenantReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager watches TenantClusters and what they own: a Deployment or StatefulSet whose
// status moves changes the conditions, and an owned object deleted by hand is made again.
func (r *TenantReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("tenantcluster").
		For(&v1alpha1.TenantCluster{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.Secret{}).
		Complete(r)
}

func (r *TenantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var tc v1alpha1.TenantCluster
	if err := r.Client.Get(ctx, req.NamespacedName, &tc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !tc.DeletionTimestamp.IsZero() {
		return r.cleanUp(ctx, &tc)
	}
	if problems := validateTenant(&tc, r.Config); len(problems) > 0 {
		// Nothing is made for a TenantCluster that is wrong; what an earlier, right spec made stays.
		msg := strings.Join(problems, "; ")
		return ctrl.Result{}, r.setStatus(ctx, &tc, "", "", notReady(ReasonInvalidSpec, msg)...)
	}
	if !controllerutil.ContainsFinalizer(&tc, TenantFinalizer) {
		base := tc.DeepCopy()
		controllerutil.AddFinalizer(&tc, TenantFinalizer)
		if err := r.Client.Patch(ctx, &tc, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}),
			client.FieldOwner(FieldOwner)); err != nil {
			return ctrl.Result{}, err
		}
	}
	n := namesOf(&tc)

	svc, err := r.ensureService(ctx, &tc, n.apiServer(), "control-plane", apiServiceSpec(&tc))
	if err != nil {
		return ctrl.Result{}, err
	}
	if _, err := r.ensureService(ctx, &tc, n.etcd(), "etcd", etcdServiceSpec(&tc)); err != nil {
		return ctrl.Result{}, err
	}
	host, port, ok := apiEndpoint(r.Config, svc)
	if !ok {
		return ctrl.Result{RequeueAfter: time.Second},
			r.setStatus(ctx, &tc, "", "", notReady(ReasonWaitingForService, "the API Service "+n.apiServer()+" has no node port yet")...)
	}
	endpoint := "https://" + net.JoinHostPort(host, strconv.Itoa(int(port)))

	roots, err := r.ensureRoots(ctx, &tc)
	if err != nil {
		var damaged damagedPKI
		if errors.As(err, &damaged) {
			// A CA Secret that is there but unreadable is not replaced: a new CA would refuse every
			// kubeconfig handed out. An SRE restores it, or deletes the TenantCluster.
			return ctrl.Result{}, r.setStatus(ctx, &tc, "", "", notReady(ReasonPKIInvalid, err.Error())...)
		}
		if apierrors.IsAlreadyExists(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	now := r.now()
	secrets := []struct {
		name string
		data func(old map[string][]byte) (map[string][]byte, error)
	}{
		{n.etcdCerts(), func(old map[string][]byte) (map[string][]byte, error) { return etcdCertsData(old, &tc, roots, now) }},
		{n.apiServerCerts(), func(old map[string][]byte) (map[string][]byte, error) {
			return apiServerCertsData(old, &tc, roots, svc, host, now)
		}},
		{n.kubeconfigs(), func(old map[string][]byte) (map[string][]byte, error) { return kubeconfigsData(old, &tc, roots, now) }},
		{n.adminKubeconfig(), func(old map[string][]byte) (map[string][]byte, error) {
			return adminKubeconfigData(old, &tc, roots, endpoint, now)
		}},
	}
	for _, s := range secrets {
		if err := r.ensureSecret(ctx, &tc, s.name, s.data); err != nil {
			return ctrl.Result{}, err
		}
	}

	sts := &appsv1.StatefulSet{}
	sts.Name, sts.Namespace = n.etcd(), tc.Namespace
	stsSpec := etcdStatefulSetSpec(&tc, r.Config)
	if err := r.ensureWorkload(ctx, &tc, sts, "etcd", stsSpec, func() { sts.Spec = stsSpec }); err != nil {
		return ctrl.Result{}, err
	}
	deploy := &appsv1.Deployment{}
	deploy.Name, deploy.Namespace = n.controlPlane(), tc.Namespace
	deploySpec := controlPlaneDeploymentSpec(&tc, r.Config, endpoint)
	if err := r.ensureWorkload(ctx, &tc, deploy, "control-plane", deploySpec, func() { deploy.Spec = deploySpec }); err != nil {
		return ctrl.Result{}, err
	}

	conds := controlPlaneConditions(tc.Spec.ControlPlane.Replicas, sts, deploy)
	return ctrl.Result{RequeueAfter: r.Requeue}, r.setStatus(ctx, &tc, endpoint, n.adminKubeconfig(), conds...)
}

// own makes the TenantCluster the controller of obj: the garbage collector deletes obj with it.
func (r *TenantReconciler) own(tc *v1alpha1.TenantCluster, obj client.Object) error {
	return controllerutil.SetControllerReference(tc, obj, r.Client.Scheme())
}

func (r *TenantReconciler) ensureService(ctx context.Context, tc *v1alpha1.TenantCluster, name, component string,
	want corev1.ServiceSpec) (*corev1.Service, error) {
	svc := &corev1.Service{}
	svc.Name, svc.Namespace = name, tc.Namespace
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, svc, func() error {
		mergeLabels(svc, tenantLabels(tc, component))
		// The API server allocates the cluster IP and node ports: they are kept, the rest is ours.
		if svc.CreationTimestamp.IsZero() {
			svc.Spec.ClusterIP = want.ClusterIP
		}
		svc.Spec.Type, svc.Spec.Selector, svc.Spec.PublishNotReadyAddresses = want.Type, want.Selector, want.PublishNotReadyAddresses
		ports := make([]corev1.ServicePort, len(want.Ports))
		for i, p := range want.Ports {
			for _, have := range svc.Spec.Ports {
				if have.Name == p.Name {
					p.NodePort = have.NodePort
				}
			}
			ports[i] = p
		}
		svc.Spec.Ports = ports
		return r.own(tc, svc)
	})
	if err != nil {
		return nil, fmt.Errorf("Service %s/%s: %w", tc.Namespace, name, err)
	}
	return svc, nil
}

func (r *TenantReconciler) ensureSecret(ctx context.Context, tc *v1alpha1.TenantCluster, name string,
	data func(old map[string][]byte) (map[string][]byte, error)) error {
	s := &corev1.Secret{}
	s.Name, s.Namespace = name, tc.Namespace
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, s, func() error {
		mergeLabels(s, tenantLabels(tc, "pki"))
		next, err := data(s.Data)
		if err != nil {
			return err
		}
		s.Type, s.Data = corev1.SecretTypeOpaque, next
		return r.own(tc, s)
	})
	if err != nil {
		// Never the Secret's content: only its name.
		return fmt.Errorf("Secret %s/%s: %w", tc.Namespace, name, err)
	}
	return nil
}

// ensureWorkload writes a StatefulSet or Deployment when its spec is not the one last written
// (by the hash of the desired spec, kept in an annotation).
func (r *TenantReconciler) ensureWorkload(ctx context.Context, tc *v1alpha1.TenantCluster, obj client.Object,
	component string, spec any, setSpec func()) error {
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:8])
	_, err = controllerutil.CreateOrUpdate(ctx, r.Client, obj, func() error {
		mergeLabels(obj, tenantLabels(tc, component))
		if obj.GetAnnotations()[specHashAnnotation] != hash {
			setSpec()
			annotations := obj.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[specHashAnnotation] = hash
			obj.SetAnnotations(annotations)
		}
		return r.own(tc, obj)
	})
	if err != nil {
		return fmt.Errorf("%s/%s: %w", tc.Namespace, obj.GetName(), err)
	}
	return nil
}

func mergeLabels(obj client.Object, want map[string]string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range want {
		labels[k] = v
	}
	obj.SetLabels(labels)
}

// controlPlaneConditions reads the StatefulSet's and the Deployment's status as their controllers
// (and the kubelets under them) post it. ControlPlaneReady: every replica of both Ready and of the
// current spec. Available: the tenant's API answers — an etcd quorum and one API server.
func controlPlaneConditions(replicas int32, sts *appsv1.StatefulSet, deploy *appsv1.Deployment) []metav1.Condition {
	quorum := replicas/2 + 1
	etcdCurrent := sts.Status.ObservedGeneration >= sts.Generation
	apiCurrent := deploy.Status.ObservedGeneration >= deploy.Generation
	etcdReady, apiReady := sts.Status.ReadyReplicas, deploy.Status.AvailableReplicas
	etcdMsg := fmt.Sprintf("etcd: %d of %d members Ready", etcdReady, replicas)
	apiMsg := fmt.Sprintf("control plane: %d of %d API server pods available", apiReady, replicas)

	cp := metav1.Condition{Type: v1alpha1.ConditionControlPlaneReady, Status: metav1.ConditionTrue,
		Reason: ReasonControlPlaneReady, Message: etcdMsg + "; " + apiMsg}
	switch {
	case !etcdCurrent || etcdReady < replicas || sts.Status.UpdatedReplicas < replicas:
		cp.Status, cp.Reason = metav1.ConditionFalse, ReasonEtcdNotReady
	case !apiCurrent || apiReady < replicas || deploy.Status.UpdatedReplicas < replicas:
		cp.Status, cp.Reason = metav1.ConditionFalse, ReasonAPIServerNotReady
	}
	av := metav1.Condition{Type: v1alpha1.ConditionAvailable, Status: metav1.ConditionTrue, Reason: ReasonAvailable,
		Message: fmt.Sprintf("the API answers: %d of %d etcd members Ready (quorum %d), %d API server pod(s) available",
			etcdReady, replicas, quorum, apiReady)}
	switch {
	case etcdReady < quorum:
		av.Status, av.Reason, av.Message = metav1.ConditionFalse, ReasonNoQuorum,
			fmt.Sprintf("etcd has %d of the %d members its quorum needs Ready", etcdReady, quorum)
	case apiReady < 1:
		av.Status, av.Reason, av.Message = metav1.ConditionFalse, ReasonNoAPIServer, "no API server pod is available"
	}
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonTenantReady,
		Message: "every control-plane replica is Ready and the API answers"}
	for _, c := range []metav1.Condition{cp, av} {
		if c.Status != metav1.ConditionTrue {
			ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, c.Reason, c.Message
			break
		}
	}
	return []metav1.Condition{cp, av, ready}
}

// notReady is all three conditions False for one reason: the spec is refused, or the control
// plane cannot be made yet.
func notReady(reason, message string) []metav1.Condition {
	out := make([]metav1.Condition, 0, 3)
	for _, t := range []string{v1alpha1.ConditionControlPlaneReady, v1alpha1.ConditionAvailable, v1alpha1.ConditionReady} {
		out = append(out, metav1.Condition{Type: t, Status: metav1.ConditionFalse, Reason: reason, Message: message})
	}
	return out
}

// setStatus writes the status only when it differs, and records an Event when Ready changes.
func (r *TenantReconciler) setStatus(ctx context.Context, tc *v1alpha1.TenantCluster, endpoint, kubeconfig string,
	conds ...metav1.Condition) error {
	next := tc.DeepCopy()
	next.Status.ObservedGeneration = tc.Generation
	if endpoint != "" {
		next.Status.Endpoint, next.Status.KubeconfigSecret = endpoint, kubeconfig
	}
	for _, c := range conds {
		c.ObservedGeneration = tc.Generation
		c.Message = truncate(c.Message)
		meta.SetStatusCondition(&next.Status.Conditions, c)
	}
	if equality.Semantic.DeepEqual(tc.Status, next.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, next, client.MergeFrom(tc), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("updating status of TenantCluster %s/%s: %w", tc.Namespace, tc.Name, err)
	}
	before := meta.FindStatusCondition(tc.Status.Conditions, v1alpha1.ConditionReady)
	after := meta.FindStatusCondition(next.Status.Conditions, v1alpha1.ConditionReady)
	if after != nil && (before == nil || before.Status != after.Status || before.Reason != after.Reason) {
		kind := corev1.EventTypeWarning
		if after.Status == metav1.ConditionTrue {
			kind = corev1.EventTypeNormal
		}
		r.Recorder.Eventf(next, nil, kind, after.Reason, "Reconcile", "%s", after.Message)
	}
	return nil
}

// cleanUp deletes everything the TenantCluster controls, then lets it go. Only objects whose
// controller is this TenantCluster (by UID) are touched.
func (r *TenantReconciler) cleanUp(ctx context.Context, tc *v1alpha1.TenantCluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(tc, TenantFinalizer) {
		return ctrl.Result{}, nil
	}
	lists := []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &corev1.ServiceList{}, &corev1.SecretList{}}
	remaining := 0
	for _, list := range lists {
		if err := r.Client.List(ctx, list, client.InNamespace(tc.Namespace), client.MatchingLabels{LabelTenant: tc.Name}); err != nil {
			return ctrl.Result{}, err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return ctrl.Result{}, err
		}
		for _, item := range items {
			obj, ok := item.(client.Object)
			if !ok || !metav1.IsControlledBy(obj, tc) {
				continue
			}
			remaining++
			if !obj.GetDeletionTimestamp().IsZero() {
				continue
			}
			err := r.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
			if client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("deleting %s/%s: %w", tc.Namespace, obj.GetName(), err)
			}
			log.FromContext(ctx).Info("deleted", "object", obj.GetName())
		}
	}
	if remaining > 0 {
		// Gone once the cache says so; look again shortly.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	base := tc.DeepCopy()
	controllerutil.RemoveFinalizer(tc, TenantFinalizer)
	if err := r.Client.Patch(ctx, tc, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}),
		client.FieldOwner(FieldOwner)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}
