package controller

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

func ptr[T any](v T) *T { return &v }

func metaSelector(labels map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: labels}
}

func objectMeta(labels map[string]string) metav1.ObjectMeta { return metav1.ObjectMeta{Labels: labels} }
