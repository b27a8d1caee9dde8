// A tiny supervisor: takes ports for two workers from a pool and starts them, reloads
// worker-1 with no downtime by handing its name over to a new generation on a fresh port,
// shows the registry, then stops everything and gives the ports back.
//
//	go run . [REGISTRY-PATH]   (default: $PORTPOOL_REGISTRY, else the host registry)
//
// The leases are owned by this process: if it dies without releasing them, the next Allocate
// or GC reclaims them. The workers here are listeners in this process; a real supervisor
// starts programs on the ports.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"portpool"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "supervisor:", err)
		os.Exit(1)
	}
}

// serve stands in for a worker: it listens on port.
func serve(name string, port int) (net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fmt.Printf("%s: port %d\n", name, port)
	return l, nil
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

	// Two ports from the "workers" pool in one step, owned by this supervisor.
	if _, err := reg.SetPool("workers", 7600, 7699); err != nil {
		return err
	}
	names := []string{"worker-1", "worker-2"}
	ports, err := reg.AllocateMany(names, "workers", portpool.WithOwner(os.Getpid()))
	if err != nil {
		return err
	}
	workers := map[string]net.Listener{}
	defer func() {
		for name, l := range workers {
			l.Close()
			if _, err := reg.Release(name); err != nil {
				fmt.Fprintln(os.Stderr, "supervisor:", err)
			}
		}
	}()
	for i, name := range names {
		if workers[name], err = serve(name, ports[i]); err != nil {
			return err
		}
	}

	// Reload worker-1: the next generation gets a fresh port while the old one keeps
	// serving; the commit makes the new port the name's and frees the old one.
	next, err := reg.BeginHandover("worker-1")
	if err != nil {
		return err
	}
	reloaded, err := serve("worker-1 (next)", next)
	if err != nil {
		reg.AbortHandover("worker-1")
		return err
	}
	if _, err := reg.CommitHandover("worker-1"); err != nil {
		reloaded.Close()
		return err
	}
	workers["worker-1"].Close()
	workers["worker-1"] = reloaded
	fmt.Printf("worker-1: handed over to port %d\n", next)

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
