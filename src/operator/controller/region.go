// Package controller reconciles Regions: it labels and taints the cluster's nodes as the Region
// says and reports in the Region's status which nodes are missing, not Ready or unexpected.
package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"civostack.io/operator/api/v1alpha1"
)

// FieldOwner is the field manager of every write the operator makes.
const FieldOwner = "civostack-operator"

type RegionReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// Requeue is how often a Region is looked at again without any event.
	Requeue time.Duration
}

// SetupWithManager watches Regions (spec changes only: the operator's own status writes are not
// news) and Nodes; any node event enqueues every Region.
func (r *RegionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("region").
		For(&v1alpha1.Region{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.allRegions)).
		Complete(r)
}

func (r *RegionReconciler) allRegions(ctx context.Context, _ client.Object) []reconcile.Request {
	var regions v1alpha1.RegionList
	if err := r.Client.List(ctx, &regions); err != nil {
		log.FromContext(ctx).Error(err, "listing Regions for a node event")
		return nil
	}
	out := make([]reconcile.Request, 0, len(regions.Items))
	for _, region := range regions.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&region)})
	}
	return out
}

func (r *RegionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var region v1alpha1.Region
	if err := r.Client.Get(ctx, req.NamespacedName, &region); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing nodes: %w", err)
	}
	byName := make(map[string]*corev1.Node, len(nodes.Items))
	for i := range nodes.Items {
		byName[nodes.Items[i].Name] = &nodes.Items[i]
	}

	failures := map[string]string{}
	for _, want := range region.Spec.Nodes {
		node, ok := byName[want.Name]
		if !ok {
			continue
		}
		err := r.labelNode(ctx, &region, node, want)
		if apierrors.IsConflict(err) {
			// The node changed since the cache saw it: look again shortly rather than report it.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if err != nil {
			failures[want.Name] = err.Error()
		}
	}

	if err := r.updateStatus(ctx, &region, assess(region.Spec, nodes.Items, failures)); err != nil {
		return ctrl.Result{}, err
	}
	if len(failures) > 0 {
		return ctrl.Result{}, fmt.Errorf("labelling %d node(s) failed", len(failures))
	}
	return ctrl.Result{RequeueAfter: r.Requeue}, nil
}

// labelNode patches the node only when it lacks something. Labels go in a merge patch, which
// touches only the keys it names; a taint change replaces spec.taints as a whole (the list is
// atomic), so that patch carries the resourceVersion it was computed from.
func (r *RegionReconciler) labelNode(ctx context.Context, region *v1alpha1.Region, node *corev1.Node, want v1alpha1.RegionNode) error {
	patched := node.DeepCopy()
	changes, taintsChanged := bringUp(patched, region.Spec.Region, want)
	if len(changes) == 0 {
		return nil
	}
	patch := client.MergeFrom(node)
	if taintsChanged {
		patch = client.MergeFromWithOptions(node, client.MergeFromWithOptimisticLock{})
	}
	if err := r.Client.Patch(ctx, patched, patch, client.FieldOwner(FieldOwner)); err != nil {
		return err
	}
	note := fmt.Sprintf("%s: %s", node.Name, strings.Join(changes, ", "))
	log.FromContext(ctx).Info("labelled node", "node", node.Name, "changes", changes)
	r.Recorder.Eventf(region, patched, corev1.EventTypeNormal, "NodeLabelled", "Label", "%s", truncate(note))
	return nil
}

// updateStatus writes the status only when it differs from what the Region already says.
func (r *RegionReconciler) updateStatus(ctx context.Context, region *v1alpha1.Region, a assessment) error {
	next := region.DeepCopy()
	next.Status.ObservedGeneration = region.Generation
	next.Status.Nodes = a.nodes
	for _, c := range conditions(a, region.Generation) {
		c.Message = truncate(c.Message)
		meta.SetStatusCondition(&next.Status.Conditions, c)
	}
	if equality.Semantic.DeepEqual(region.Status, next.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, next, client.MergeFrom(region), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("updating status of Region %s: %w", region.Name, err)
	}
	before := meta.FindStatusCondition(region.Status.Conditions, v1alpha1.ConditionReady)
	after := meta.FindStatusCondition(next.Status.Conditions, v1alpha1.ConditionReady)
	if before == nil || before.Status != after.Status || before.Reason != after.Reason {
		kind := corev1.EventTypeWarning
		if after.Status == metav1.ConditionTrue {
			kind = corev1.EventTypeNormal
		}
		r.Recorder.Eventf(next, nil, kind, after.Reason, "Assess", "%s", after.Message)
	}
	return nil
}

// maxMessage keeps conditions and events readable (the API allows 32 KiB; a terminal does not).
const maxMessage = 1024

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage-3] + "..."
}
