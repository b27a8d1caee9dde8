// A tiny supervisor: takes ports for two workers from a pool, starts each worker on its port,
// shows the registry, then stops the workers and gives the ports back.
//
//	go run . [REGISTRY-PATH]   (default: $PORTPOOL_REGISTRY, else the host registry)
//
// The leases are owned by this process: if it dies without releasing them, the next Allocate
// or GC reclaims them. (Handing a worker's port over to a new generation comes with portpool's
// handover operation, which the Go package does not offer yet.)
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"portpool.dev/portpool"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "supervisor:", err)
		os.Exit(1)
	}
}

func run() error {
	path := ""
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	reg, err := portpool.Open(path)
	if err != nil {
		return err
	}
	defer reg.Close()
	if _, err := reg.SetPool("workers", 7600, 7699); err != nil {
		return err
	}

	for _, name := range []string{"worker-1", "worker-2"} {
		port, err := reg.Allocate(name, "workers", portpool.WithOwner(os.Getpid()))
		if err != nil {
			return err
		}
		defer reg.Release(name)
		// A stand-in worker: listens on its port until the supervisor exits.
		worker, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer worker.Close()
		fmt.Printf("%s: port %d\n", name, port)
	}

	leases, err := reg.List()
	if err != nil {
		return err
	}
	for _, l := range leases {
		owner := "none"
		if l.Owner != nil {
			owner = strconv.Itoa(l.Owner.PID)
		}
		fmt.Printf("registry: %s %d/%s mode=%s pool=%s owner=%s\n", l.Name, l.Port, l.Protocol, l.Mode, l.Pool, owner)
	}
	return nil
}
