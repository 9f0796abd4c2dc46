package controller

// The pure half of the reconciler: what a node should carry, what it lacks, and what the Region's
// status says about the cluster. No API calls here.

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"civostack.io/operator/api/v1alpha1"
)

const (
	LabelRegion = "topology.kubernetes.io/region"
	LabelZone   = "topology.kubernetes.io/zone"
	LabelRole   = "civostack.io/role"
	LabelRack   = "civostack.io/rack"
	LabelSKU    = "civostack.io/sku"
	// RolePrefix + role is the label kubectl shows in its ROLES column.
	RolePrefix = "node-role.kubernetes.io/"
)

// wantedLabels is what a node of the Region carries: its spec labels, then the topology and role
// labels, which win over a spec label of the same key (schedulers and civostack rely on them).
func wantedLabels(region string, n v1alpha1.RegionNode) map[string]string {
	out := make(map[string]string, len(n.Labels)+6)
	for k, v := range n.Labels {
		out[k] = v
	}
	out[LabelRegion] = region
	out[LabelZone] = n.Rack
	out[RolePrefix+n.Role] = ""
	out[LabelRole] = n.Role
	out[LabelRack] = n.Rack
	out[LabelSKU] = n.SKU
	return out
}

// bringUp changes node in place so it carries what want asks for and returns the changes in words
// (empty: the node was already right). Labels of other owners are left alone; taints are only
// added, or given the spec's value when one with the same key and effect exists (the API server
// allows one taint per key and effect). taintsChanged tells whether spec.taints was touched.
func bringUp(node *corev1.Node, region string, want v1alpha1.RegionNode) (changes []string, taintsChanged bool) {
	labels := wantedLabels(region, want)
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		have, ok := node.Labels[k]
		// The role label means what its key says: k3s writes "true", kubeadm "", and neither is
		// worth a fight with the distribution that set it.
		if ok && (have == labels[k] || k == RolePrefix+want.Role) {
			continue
		}
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		node.Labels[k] = labels[k]
		changes = append(changes, fmt.Sprintf("label %s=%s", k, labels[k]))
	}
	for _, t := range want.Taints {
		i := taintIndex(node.Spec.Taints, t)
		switch {
		case i < 0:
			node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
		case node.Spec.Taints[i].Value != t.Value:
			node.Spec.Taints[i].Value = t.Value
		default:
			continue
		}
		taintsChanged = true
		changes = append(changes, fmt.Sprintf("taint %s", taintString(t)))
	}
	return changes, taintsChanged
}

func taintIndex(taints []corev1.Taint, t v1alpha1.Taint) int {
	for i, have := range taints {
		if have.Key == t.Key && have.Effect == t.Effect {
			return i
		}
	}
	return -1
}

func taintString(t v1alpha1.Taint) string {
	if t.Value == "" {
		return fmt.Sprintf("%s:%s", t.Key, t.Effect)
	}
	return fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)
}

// readiness is a node's Ready condition: ok, and why not in the kubelet's words.
func readiness(node *corev1.Node) (ok bool, why string) {
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return true, ""
		}
		why = c.Reason
		if c.Message != "" {
			why = strings.TrimSpace(why + ": " + c.Message)
		}
		if why == "" {
			why = fmt.Sprintf("Ready=%s", c.Status)
		}
		return false, why
	}
	return false, "no Ready condition yet"
}

// assessment is what the cluster looks like against the spec.
type assessment struct {
	nodes v1alpha1.NodesStatus
	// notReadyWhy maps a not-ready node to the kubelet's reason.
	notReadyWhy map[string]string
	// labelFailures maps a node that could not be labelled to the error.
	labelFailures map[string]string
}

func assess(spec v1alpha1.RegionSpec, cluster []corev1.Node, labelFailures map[string]string) assessment {
	byName := make(map[string]*corev1.Node, len(cluster))
	for i := range cluster {
		byName[cluster[i].Name] = &cluster[i]
	}
	a := assessment{notReadyWhy: map[string]string{}, labelFailures: labelFailures}
	a.nodes.Expected = len(spec.Nodes)
	inSpec := make(map[string]bool, len(spec.Nodes))
	for _, want := range spec.Nodes {
		inSpec[want.Name] = true
		node, ok := byName[want.Name]
		if !ok {
			a.nodes.Missing = append(a.nodes.Missing, want.Name)
			continue
		}
		a.nodes.Present++
		if ready, why := readiness(node); ready {
			a.nodes.Ready++
		} else {
			a.nodes.NotReady = append(a.nodes.NotReady, want.Name)
			a.notReadyWhy[want.Name] = why
		}
	}
	for _, node := range cluster {
		if !inSpec[node.Name] {
			a.nodes.Unexpected = append(a.nodes.Unexpected, node.Name)
		}
	}
	sort.Strings(a.nodes.Missing)
	sort.Strings(a.nodes.NotReady)
	sort.Strings(a.nodes.Unexpected)
	return a
}

// Condition reasons.
const (
	ReasonLabelled        = "Labelled"
	ReasonLabelFailed     = "LabelFailed"
	ReasonAllNodesReady   = "AllNodesReady"
	ReasonNodesMissing    = "NodesMissing"
	ReasonNodesNotReady   = "NodesNotReady"
	ReasonUnexpectedNodes = "UnexpectedNodes"
	ReasonRegionReady     = "RegionReady"
)

// listLimit bounds how many names a message spells out; the status lists hold them all.
const listLimit = 10

func names(list []string) string {
	if len(list) <= listLimit {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:listLimit], ", "), len(list)-listLimit)
}

// conditions turns an assessment into the Region's three conditions, worded for an SRE watching
// `civostack region up` print them.
func conditions(a assessment, generation int64) []metav1.Condition {
	n := a.nodes
	labelled := metav1.Condition{Type: v1alpha1.ConditionLabelled, Status: metav1.ConditionTrue, Reason: ReasonLabelled}
	switch {
	case len(a.labelFailures) > 0:
		failed := make([]string, 0, len(a.labelFailures))
		for name := range a.labelFailures {
			failed = append(failed, name)
		}
		sort.Strings(failed)
		parts := make([]string, 0, len(failed))
		for _, name := range failed {
			parts = append(parts, fmt.Sprintf("%s (%s)", name, a.labelFailures[name]))
		}
		labelled.Status, labelled.Reason = metav1.ConditionFalse, ReasonLabelFailed
		labelled.Message = "could not label " + strings.Join(parts, "; ")
	case n.Present == 0:
		labelled.Message = "no node of the region has joined the cluster yet"
	default:
		labelled.Message = fmt.Sprintf("%d of %d nodes joined and carry their labels and taints", n.Present, n.Expected)
	}

	nodesReady := metav1.Condition{Type: v1alpha1.ConditionNodesReady, Status: metav1.ConditionTrue, Reason: ReasonAllNodesReady,
		Message: fmt.Sprintf("all %d nodes are Ready", n.Expected)}
	if len(n.Missing) > 0 || len(n.NotReady) > 0 {
		nodesReady.Status = metav1.ConditionFalse
		nodesReady.Reason = ReasonNodesNotReady
		parts := []string{fmt.Sprintf("%d of %d nodes Ready", n.Ready, n.Expected)}
		if len(n.Missing) > 0 {
			nodesReady.Reason = ReasonNodesMissing
			parts = append(parts, "not in the cluster: "+names(n.Missing))
		}
		if len(n.NotReady) > 0 {
			parts = append(parts, "not Ready: "+notReadyByReason(n.NotReady, a.notReadyWhy))
		}
		nodesReady.Message = strings.Join(parts, "; ")
	}

	ready := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonRegionReady,
		Message: fmt.Sprintf("all %d nodes are in the cluster, labelled and Ready", n.Expected)}
	var problems []string
	for _, c := range []metav1.Condition{nodesReady, labelled} {
		if c.Status != metav1.ConditionTrue {
			if len(problems) == 0 {
				ready.Reason = c.Reason
			}
			problems = append(problems, c.Message)
		}
	}
	if len(n.Unexpected) > 0 {
		if len(problems) == 0 {
			ready.Reason = ReasonUnexpectedNodes
		}
		problems = append(problems, "in the cluster but not in the manifest: "+names(n.Unexpected))
	}
	if len(problems) > 0 {
		ready.Status = metav1.ConditionFalse
		ready.Message = strings.Join(problems, "; ")
	}

	out := []metav1.Condition{labelled, nodesReady, ready}
	for i := range out {
		out[i].ObservedGeneration = generation
	}
	return out
}

// notReadyByReason groups not-ready nodes by what their kubelet says, so a region whose nodes all
// wait for the same CNI reads as one line: "r1-n1, r1-n2 (KubeletNotReady: ...)".
func notReadyByReason(nodes []string, why map[string]string) string {
	groups := map[string][]string{}
	var order []string
	for _, name := range nodes {
		w := why[name]
		if _, seen := groups[w]; !seen {
			order = append(order, w)
		}
		groups[w] = append(groups[w], name)
	}
	parts := make([]string, 0, len(order))
	for _, w := range order {
		parts = append(parts, fmt.Sprintf("%s (%s)", names(groups[w]), w))
	}
	return strings.Join(parts, "; ")
}
