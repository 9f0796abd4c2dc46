package controller

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"civostack.io/operator/api/v1alpha1"
)

func TestBringUpAddsOnlyWhatIsMissing(t *testing.T) {
	want := v1alpha1.RegionNode{Name: "n1", Rack: "r1", Role: "worker", SKU: "gp",
		Labels: map[string]string{"civostack.io/rack": "spec-loses", "extra": "yes"},
		Taints: []v1alpha1.Taint{{Key: "a", Value: "new", Effect: corev1.TaintEffectNoSchedule}, {Key: "b", Effect: corev1.TaintEffectNoExecute}}}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "x", "extra": "yes"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{
			{Key: "theirs", Effect: corev1.TaintEffectNoSchedule},
			{Key: "a", Value: "old", Effect: corev1.TaintEffectNoSchedule},
		}},
	}
	changes, taints := bringUp(node, "lab", want)
	if !taints {
		t.Error("taintsChanged = false")
	}
	wantChanges := []string{
		"label civostack.io/rack=r1", "label civostack.io/role=worker", "label civostack.io/sku=gp",
		"label node-role.kubernetes.io/worker=", "label topology.kubernetes.io/region=lab",
		"label topology.kubernetes.io/zone=r1", "taint a=new:NoSchedule", "taint b:NoExecute",
	}
	if !reflect.DeepEqual(changes, wantChanges) {
		t.Errorf("changes = %q\nwant %q", changes, wantChanges)
	}
	wantTaints := []corev1.Taint{
		{Key: "theirs", Effect: corev1.TaintEffectNoSchedule},
		{Key: "a", Value: "new", Effect: corev1.TaintEffectNoSchedule},
		{Key: "b", Effect: corev1.TaintEffectNoExecute},
	}
	if !reflect.DeepEqual(node.Spec.Taints, wantTaints) {
		t.Errorf("taints = %+v", node.Spec.Taints)
	}
	if node.Labels["team"] != "x" {
		t.Error("a label of someone else's was lost")
	}
	if again, _ := bringUp(node, "lab", want); len(again) != 0 {
		t.Errorf("a right node still changes: %q", again)
	}
}

func TestBringUpLeavesTheDistributionsRoleLabel(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"node-role.kubernetes.io/control-plane": "true"}}}
	bringUp(node, "lab", v1alpha1.RegionNode{Name: "n1", Rack: "r1", Role: "control-plane", SKU: "gp"})
	if v := node.Labels["node-role.kubernetes.io/control-plane"]; v != "true" {
		t.Errorf("node-role.kubernetes.io/control-plane = %q, want k3s's \"true\" kept", v)
	}
}

func TestConditionsOfAnEmptyCluster(t *testing.T) {
	spec := v1alpha1.RegionSpec{Region: "lab"}
	for i := 0; i < 12; i++ {
		spec.Nodes = append(spec.Nodes, v1alpha1.RegionNode{Name: string(rune('a'+i)) + "-n"})
	}
	got := conditions(assess(spec, nil, nil), 4)
	if got[0].Status != metav1.ConditionTrue || got[0].Message != "no node of the region has joined the cluster yet" {
		t.Errorf("Labelled = %+v", got[0])
	}
	msg := "0 of 12 nodes Ready; not in the cluster: a-n, b-n, c-n, d-n, e-n, f-n, g-n, h-n, i-n, j-n and 2 more"
	if got[1].Reason != ReasonNodesMissing || got[1].Message != msg {
		t.Errorf("NodesReady = %+v", got[1])
	}
	if got[2].Status != metav1.ConditionFalse || got[2].Reason != ReasonNodesMissing || !strings.HasPrefix(got[2].Message, msg) {
		t.Errorf("Ready = %+v", got[2])
	}
	for _, c := range got {
		if c.ObservedGeneration != 4 {
			t.Errorf("%s observedGeneration = %d", c.Type, c.ObservedGeneration)
		}
	}
}

func TestNotReadyNodesGroupByTheirKubeletsReason(t *testing.T) {
	cni := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "cni not initialized"}
	spec := v1alpha1.RegionSpec{Nodes: []v1alpha1.RegionNode{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}}
	nodes := []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{cni}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{cni}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "n3"}},
	}
	got := conditions(assess(spec, nodes, map[string]string{"n3": "forbidden"}), 1)
	if want := "0 of 3 nodes Ready; not Ready: n1, n2 (KubeletNotReady: cni not initialized); n3 (no Ready condition yet)"; got[1].Message != want {
		t.Errorf("NodesReady message = %q\nwant %q", got[1].Message, want)
	}
	if got[0].Status != metav1.ConditionFalse || got[0].Message != "could not label n3 (forbidden)" {
		t.Errorf("Labelled = %+v", got[0])
	}
}
