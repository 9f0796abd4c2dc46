package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TenantCluster is a customer's Kubernetes cluster whose control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) runs as pods on the region's own cluster, in the
// TenantCluster's namespace. Its name names every object the operator makes for it.
type TenantCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TenantClusterSpec   `json:"spec"`
	Status            TenantClusterStatus `json:"status,omitempty"`
}

type TenantClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TenantCluster `json:"items"`
}

type TenantClusterSpec struct {
	// Version is the tenant's Kubernetes version, such as v1.35.4: one the region has built.
	Version      string             `json:"version"`
	ControlPlane TenantControlPlane `json:"controlPlane"`
	// Workers is how many worker nodes the tenant asked for; node pools will provide them.
	Workers int32         `json:"workers"`
	Network TenantNetwork `json:"network"`
	// Owner is the customer the cluster belongs to; every object made for it carries it as the
	// label civostack.io/owner.
	Owner string `json:"owner"`
}

type TenantControlPlane struct {
	// Replicas of etcd and of the API server pod: odd, so etcd keeps a quorum.
	Replicas int32 `json:"replicas"`
}

// TenantNetwork is the tenant's own address space: it may not overlap the region's networks.
type TenantNetwork struct {
	PodCIDR     string `json:"podCIDR"`
	ServiceCIDR string `json:"serviceCIDR"`
}

type TenantClusterStatus struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
	// Endpoint is the tenant API server's address as its kubeconfig names it (https://host:port).
	Endpoint string `json:"endpoint,omitempty"`
	// KubeconfigSecret names the Secret, in the TenantCluster's namespace, whose key `kubeconfig`
	// is the tenant's admin kubeconfig.
	KubeconfigSecret string `json:"kubeconfigSecret,omitempty"`
}

// TenantCluster condition types. Ready is what `civostack tenant` and kubectl wait on.
const (
	ConditionControlPlaneReady = "ControlPlaneReady"
	ConditionAvailable         = "Available"
)
