// etcd's server command, as upstream's etcd/main.go builds it (that module is not published).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
