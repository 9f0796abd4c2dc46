// Package v1alpha1 holds the Region resource (the racks and nodes civostack planned for a region,
// and what the operator found in the cluster) and the TenantCluster resource (a customer's cluster
// whose control plane the operator runs on the region's).
package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of Region.
var GroupVersion = schema.GroupVersion{Group: "civostack.io", Version: "v1alpha1"}

// AddToScheme registers Region, TenantCluster and their lists.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Region{}, &RegionList{}, &TenantCluster{}, &TenantClusterList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Region is cluster-scoped; civostack names it after the region.
type Region struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RegionSpec   `json:"spec"`
	Status            RegionStatus `json:"status,omitempty"`
}

type RegionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Region `json:"items"`
}

type RegionSpec struct {
	Region string       `json:"region"`
	Nodes  []RegionNode `json:"nodes"`
}

// RegionNode is one planned node: where it sits and what it is for.
type RegionNode struct {
	Name   string            `json:"name"`
	Rack   string            `json:"rack"`
	Role   string            `json:"role"`
	SKU    string            `json:"sku"`
	Labels map[string]string `json:"labels,omitempty"`
	Taints []Taint           `json:"taints,omitempty"`
}

type Taint struct {
	Key    string             `json:"key"`
	Value  string             `json:"value,omitempty"`
	Effect corev1.TaintEffect `json:"effect"`
}

type RegionStatus struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
	Nodes              NodesStatus        `json:"nodes,omitempty"`
}

// NodesStatus compares the spec's nodes with the cluster's. The lists are sorted by name.
type NodesStatus struct {
	Expected   int      `json:"expected"`
	Present    int      `json:"present"`
	Ready      int      `json:"ready"`
	Missing    []string `json:"missing,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	NotReady   []string `json:"notReady,omitempty"`
}

// Condition types, as civostack waits on them.
const (
	ConditionLabelled   = "Labelled"
	ConditionNodesReady = "NodesReady"
	ConditionReady      = "Ready"
)
