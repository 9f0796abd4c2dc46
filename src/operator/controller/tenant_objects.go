package controller

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"civostack.io/operator/api/v1alpha1"
)

// The objects a TenantCluster is made of, in its namespace, each named after it:
//
//	<name>-ca                      Secret: the tenant's CA and etcd CA (with keys), service-account key
//	<name>-etcd-certs              Secret: etcd's serving and peer certificate
//	<name>-apiserver-certs         Secret: the API server's serving certificate, its etcd client certificate
//	<name>-control-plane-kubeconfigs Secret: kubeconfigs of the controller-manager and the scheduler
//	<name>-admin-kubeconfig        Secret: the tenant's admin kubeconfig, key `kubeconfig`
//	<name>-etcd                    headless Service and StatefulSet: the tenant's own etcd
//	<name>-apiserver               Service (NodePort): the tenant's API
//	<name>-control-plane           Deployment: kube-apiserver, kube-controller-manager and kube-scheduler in one pod
//
// The etcd members find each other, and the API server finds them, by the headless Service's
// per-pod DNS names: the region's cluster DNS must run.

const (
	LabelTenant    = "civostack.io/tenant"
	LabelOwner     = "civostack.io/owner"
	labelComponent = "app.kubernetes.io/component"
	labelManagedBy = "app.kubernetes.io/managed-by"
	// specHashAnnotation records which desired spec an object was last written from, so an object
	// already right is not written again (the API server's defaults make a field-by-field compare
	// with the desired object always differ).
	specHashAnnotation = "civostack.io/spec-hash"

	apiServerPort = 6443
	etcdClient    = 2379
	etcdPeer      = 2380
	etcdMetrics   = 2381
	nobody        = 65534
)

type tenantNames struct{ name, namespace string }

func namesOf(tc *v1alpha1.TenantCluster) tenantNames { return tenantNames{tc.Name, tc.Namespace} }

func (n tenantNames) ca() string              { return n.name + "-ca" }
func (n tenantNames) etcdCerts() string       { return n.name + "-etcd-certs" }
func (n tenantNames) apiServerCerts() string  { return n.name + "-apiserver-certs" }
func (n tenantNames) kubeconfigs() string     { return n.name + "-control-plane-kubeconfigs" }
func (n tenantNames) adminKubeconfig() string { return n.name + "-admin-kubeconfig" }
func (n tenantNames) etcd() string            { return n.name + "-etcd" }
func (n tenantNames) apiServer() string       { return n.name + "-apiserver" }
func (n tenantNames) controlPlane() string    { return n.name + "-control-plane" }

// etcdMember is the DNS name of etcd member i under the headless Service.
func (n tenantNames) etcdMember(i int32) string {
	return fmt.Sprintf("%s-%d.%s.%s.svc", n.etcd(), i, n.etcd(), n.namespace)
}

func tenantLabels(tc *v1alpha1.TenantCluster, component string) map[string]string {
	l := map[string]string{LabelTenant: tc.Name, labelManagedBy: FieldOwner, LabelOwner: tc.Spec.Owner}
	if component != "" {
		l[labelComponent] = component
	}
	return l
}

func selectorOf(tc *v1alpha1.TenantCluster, component string) map[string]string {
	return map[string]string{LabelTenant: tc.Name, labelComponent: component}
}

// apiServiceSpec exposes the tenant's API. A NodePort for now: clients reach it at the region's
// API VIP (TenantConfig.EndpointHost) on the allocated port. A LoadBalancer address from the
// region's public pool replaces this here and in apiEndpoint, nowhere else.
func apiServiceSpec(tc *v1alpha1.TenantCluster) corev1.ServiceSpec {
	return corev1.ServiceSpec{
		Type:     corev1.ServiceTypeNodePort,
		Selector: selectorOf(tc, "control-plane"),
		Ports: []corev1.ServicePort{{Name: "https", Port: apiServerPort, Protocol: corev1.ProtocolTCP,
			TargetPort: intstr.FromInt32(apiServerPort)}},
	}
}

// apiEndpoint is the tenant API's address for clients, once the Service has its port.
func apiEndpoint(cfg TenantConfig, svc *corev1.Service) (host string, port int32, ok bool) {
	if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].NodePort == 0 {
		return "", 0, false
	}
	host = cfg.EndpointHost
	if host == "" {
		host = svc.Spec.ClusterIP
	}
	return host, svc.Spec.Ports[0].NodePort, host != ""
}

func etcdServiceSpec(tc *v1alpha1.TenantCluster) corev1.ServiceSpec {
	return corev1.ServiceSpec{
		Type:      corev1.ServiceTypeClusterIP,
		ClusterIP: corev1.ClusterIPNone,
		Selector:  selectorOf(tc, "etcd"),
		// Members must resolve each other before any is Ready: they become Ready together.
		PublishNotReadyAddresses: true,
		Ports: []corev1.ServicePort{
			{Name: "client", Port: etcdClient, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(etcdClient)},
			{Name: "peer", Port: etcdPeer, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(etcdPeer)},
		},
	}
}

// onControlPlaneNodes places tenant control planes on the region's control-plane nodes: only
// those have the control-plane images imported (civostack's artifacts give them that role), and
// the images come from no registry. Replicas prefer different nodes.
func onControlPlaneNodes(tc *v1alpha1.TenantCluster, component string) (*corev1.Affinity, []corev1.Toleration) {
	return &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.NodeSelectorOpExists}}}}}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
					LabelSelector: metaSelector(selectorOf(tc, component))}}}},
		}, []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoSchedule}}
}

func podSecurity() *corev1.PodSecurityContext {
	id := int64(nobody)
	yes := true
	return &corev1.PodSecurityContext{RunAsUser: &id, RunAsGroup: &id, FSGroup: &id, RunAsNonRoot: &yes,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
}

func containerSecurity() *corev1.SecurityContext {
	no, yes := false, true
	return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

// secretVolume mounts a Secret readable by the pod's group only (the pod runs as nobody, fsGroup nobody).
func secretVolume(name, secret string, keys ...string) corev1.Volume {
	mode := int32(0o440)
	src := &corev1.SecretVolumeSource{SecretName: secret, DefaultMode: &mode}
	for _, k := range keys {
		src.Items = append(src.Items, corev1.KeyToPath{Key: k, Path: k})
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: src}}
}

func etcdStatefulSetSpec(tc *v1alpha1.TenantCluster, cfg TenantConfig) appsv1.StatefulSetSpec {
	n := namesOf(tc)
	replicas := tc.Spec.ControlPlane.Replicas
	initial := make([]string, 0, replicas)
	for i := int32(0); i < replicas; i++ {
		initial = append(initial, fmt.Sprintf("%s-%d=https://%s:%d", n.etcd(), i, n.etcdMember(i), etcdPeer))
	}
	self := fmt.Sprintf("$(POD_NAME).%s.%s.svc", n.etcd(), n.namespace)
	return appsv1.StatefulSetSpec{
		Replicas:    &replicas,
		ServiceName: n.etcd(),
		// An etcd cluster starts with all its members at once.
		PodManagementPolicy: appsv1.ParallelPodManagement,
		Selector:            metaSelector(selectorOf(tc, "etcd")),
		Template: tenantPod(tc, "etcd",
			[]corev1.Container{{
				Name:  "etcd",
				Image: cfg.EtcdImage,
				Command: []string{"etcd",
					"--name=$(POD_NAME)",
					"--data-dir=/var/lib/etcd",
					fmt.Sprintf("--listen-client-urls=https://0.0.0.0:%d", etcdClient),
					fmt.Sprintf("--advertise-client-urls=https://%s:%d", self, etcdClient),
					fmt.Sprintf("--listen-peer-urls=https://0.0.0.0:%d", etcdPeer),
					fmt.Sprintf("--initial-advertise-peer-urls=https://%s:%d", self, etcdPeer),
					fmt.Sprintf("--listen-metrics-urls=http://0.0.0.0:%d", etcdMetrics),
					"--initial-cluster=" + strings.Join(initial, ","),
					"--initial-cluster-state=new",
					"--initial-cluster-token=" + n.namespace + "/" + n.name,
					"--client-cert-auth", "--trusted-ca-file=/pki/ca.crt",
					"--cert-file=/pki/tls.crt", "--key-file=/pki/tls.key",
					"--peer-client-cert-auth", "--peer-trusted-ca-file=/pki/ca.crt",
					"--peer-cert-file=/pki/tls.crt", "--peer-key-file=/pki/tls.key",
				},
				Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Ports: []corev1.ContainerPort{
					{Name: "client", ContainerPort: etcdClient}, {Name: "peer", ContainerPort: etcdPeer},
					{Name: "metrics", ContainerPort: etcdMetrics}},
				ReadinessProbe: httpProbe("/readyz", etcdMetrics, corev1.URISchemeHTTP),
				LivenessProbe:  httpProbe("/livez", etcdMetrics, corev1.URISchemeHTTP),
				VolumeMounts: []corev1.VolumeMount{{Name: "pki", MountPath: "/pki", ReadOnly: true},
					{Name: "data", MountPath: "/var/lib/etcd"}},
				SecurityContext: containerSecurity(),
			}},
			// emptyDir until the region has a storage class: a member that loses its pod loses its
			// data and must be replaced (`etcdctl member remove/add`); with 3 or more members the
			// others keep the tenant's state.
			[]corev1.Volume{secretVolume("pki", n.etcdCerts()),
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}),
	}
}

// tenantPod is the pod both workloads run: no service-account token or service links (it talks
// to no API of the region), on the region's control-plane nodes, as nobody.
func tenantPod(tc *v1alpha1.TenantCluster, component string, containers []corev1.Container, volumes []corev1.Volume) corev1.PodTemplateSpec {
	affinity, tolerations := onControlPlaneNodes(tc, component)
	return corev1.PodTemplateSpec{
		ObjectMeta: objectMeta(tenantLabels(tc, component)),
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr(false),
			EnableServiceLinks:           ptr(false),
			Affinity:                     affinity,
			Tolerations:                  tolerations,
			SecurityContext:              podSecurity(),
			Containers:                   containers,
			Volumes:                      volumes,
		},
	}
}

func controlPlaneDeploymentSpec(tc *v1alpha1.TenantCluster, cfg TenantConfig, issuer string) appsv1.DeploymentSpec {
	n := namesOf(tc)
	replicas := tc.Spec.ControlPlane.Replicas
	servers := make([]string, 0, replicas)
	for i := int32(0); i < replicas; i++ {
		servers = append(servers, fmt.Sprintf("https://%s:%d", n.etcdMember(i), etcdClient))
	}
	v := tc.Spec.Version
	kubeconfigMount := corev1.VolumeMount{Name: "kubeconfigs", MountPath: "/etc/kubernetes", ReadOnly: true}
	authFlags := func(conf string) []string {
		return []string{"--kubeconfig=/etc/kubernetes/" + conf, "--authentication-kubeconfig=/etc/kubernetes/" + conf,
			"--authorization-kubeconfig=/etc/kubernetes/" + conf, "--bind-address=127.0.0.1", "--leader-elect=true"}
	}
	return appsv1.DeploymentSpec{
		Replicas: &replicas,
		Selector: metaSelector(selectorOf(tc, "control-plane")),
		Template: tenantPod(tc, "control-plane",
			[]corev1.Container{
				{
					Name:  "kube-apiserver",
					Image: cfg.image("kube-apiserver", v),
					Command: []string{"kube-apiserver",
						fmt.Sprintf("--secure-port=%d", apiServerPort),
						"--etcd-servers=" + strings.Join(servers, ","),
						"--etcd-cafile=/pki/etcd-ca.crt", "--etcd-certfile=/pki/etcd-client.crt",
						"--etcd-keyfile=/pki/etcd-client.key",
						"--tls-cert-file=/pki/tls.crt", "--tls-private-key-file=/pki/tls.key",
						"--client-ca-file=/pki/ca.crt",
						"--service-account-issuer=" + issuer,
						"--service-account-key-file=/pki/sa.pub",
						"--service-account-signing-key-file=/pki/sa.key",
						"--service-cluster-ip-range=" + tc.Spec.Network.ServiceCIDR,
						"--authorization-mode=Node,RBAC",
						"--enable-admission-plugins=NodeRestriction",
						"--allow-privileged=true",
						"--profiling=false",
					},
					Ports:           []corev1.ContainerPort{{Name: "https", ContainerPort: apiServerPort}},
					ReadinessProbe:  httpProbe("/readyz", apiServerPort, corev1.URISchemeHTTPS),
					LivenessProbe:   httpProbe("/livez", apiServerPort, corev1.URISchemeHTTPS),
					VolumeMounts:    []corev1.VolumeMount{{Name: "apiserver-pki", MountPath: "/pki", ReadOnly: true}},
					SecurityContext: containerSecurity(),
				},
				{
					Name:  "kube-controller-manager",
					Image: cfg.image("kube-controller-manager", v),
					Command: append(append([]string{"kube-controller-manager"}, authFlags("controller-manager.conf")...),
						"--cluster-signing-cert-file=/pki/ca.crt", "--cluster-signing-key-file=/pki/ca.key",
						"--root-ca-file=/pki/ca.crt", "--service-account-private-key-file=/pki/sa.key",
						"--use-service-account-credentials=true",
						"--allocate-node-cidrs=true", "--cluster-cidr="+tc.Spec.Network.PodCIDR,
						"--service-cluster-ip-range="+tc.Spec.Network.ServiceCIDR,
						"--controllers=*,bootstrapsigner,tokencleaner", "--profiling=false"),
					VolumeMounts: []corev1.VolumeMount{kubeconfigMount,
						{Name: "signing", MountPath: "/pki", ReadOnly: true}},
					SecurityContext: containerSecurity(),
				},
				{
					Name:            "kube-scheduler",
					Image:           cfg.image("kube-scheduler", v),
					Command:         append(append([]string{"kube-scheduler"}, authFlags("scheduler.conf")...), "--profiling=false"),
					VolumeMounts:    []corev1.VolumeMount{kubeconfigMount},
					SecurityContext: containerSecurity(),
				},
			},
			[]corev1.Volume{
				secretVolume("apiserver-pki", n.apiServerCerts()),
				// The controller-manager signs with the CA and the service-account key; the etcd CA's
				// key stays out of every pod.
				secretVolume("signing", n.ca(), "ca.crt", "ca.key", "sa.key"),
				secretVolume("kubeconfigs", n.kubeconfigs()),
			}),
	}
}

func httpProbe(path string, port int32, scheme corev1.URIScheme) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path,
			Port: intstr.FromInt32(port), Scheme: scheme}},
		PeriodSeconds: 10, FailureThreshold: 6, TimeoutSeconds: 5,
	}
}
