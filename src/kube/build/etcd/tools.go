//go:build tools

// etcdctl is built from its own module; importing it here keeps `go mod tidy` from dropping it.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
)
