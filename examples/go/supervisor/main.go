// A supervisor with N HTTP workers, each on a port of a shared pool, reloaded without
// downtime on SIGHUP: the use case portpool is built for.
//
//	supervisor -registry PATH -namespace NS -pool POOL [-workers N]
//
// Workers are named web-1 … web-N in the namespace NS, so two supervisors (two projects) may
// share one pool without their names colliding; ports stay unique across namespaces. Each
// worker is this program run with -worker, serving the listening socket it inherits as fd 3:
// the first generation's socket comes from portpool's Listen (leased and bound in one step),
// a reload's from the port its handover leased, bound by the supervisor before the worker
// starts.
//
// A reload is one decision for all N workers: BeginHandovers leases a next port for each (all
// or none), the new workers start and are health-checked, and CommitHandovers makes them
// current in one change with their tickets; on any failure, AbortHandovers drops the new
// ports and the old workers keep serving. The old workers stop only after the commit, once
// clients read the new ports.
//
// Overlapping SIGHUPs are coalesced: a SIGHUP that arrives during a reload schedules one
// more reload after it, however many arrive; it does not supersede the reload under way.
// Superseding would abort handovers whose new workers may already be healthy and start
// others in their place, so a burst of reloads would churn workers and never settle;
// coalescing runs every reload to its end, and the last one still starts after the last
// SIGHUP, so the workers always end up on what that SIGHUP asked for. The tickets make the
// coalesced reload safe against anything else: a begin while a handover is under way is a
// conflict (never a shared port), and a commit with an old ticket changes nothing.
//
// Every worker start and stop is printed on stdout as one line:
//
//	start NS NAME PORT PID UNIXNANO     (after the port is bound, before the worker runs)
//	stop NS NAME PORT PID UNIXNANO      (printed by the worker once its listener is closed)
//	reloaded NS COUNT                   (a reload ended, committed or aborted)
//	ready NS                            (every first-generation worker answers)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"portpool"
)

// How long a new worker may take to answer its health check, and how long clients that read
// the old port just before a commit get to reach the old worker.
const (
	healthTimeout = 5 * time.Second
	drainGrace    = 100 * time.Millisecond
)

func main() {
	worker := flag.Bool("worker", false, "serve the listening socket on fd 3 (internal)")
	registry := flag.String("registry", "", "registry file (default: $PORTPOOL_REGISTRY, else the host registry)")
	namespace := flag.String("namespace", "", "namespace of the worker names")
	pool := flag.String("pool", "", "pool to take ports from (default: the default pool)")
	workers := flag.Int("workers", 2, "workers to run")
	name := flag.String("name", "", "the worker's name (internal)")
	flag.Parse()
	var err error
	if *worker {
		err = serve(*namespace, *name)
	} else {
		err = supervise(*registry, *namespace, *pool, *workers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "supervisor:", err)
		os.Exit(1)
	}
}

// event prints one line in one write, so that lines of several processes never interleave.
func event(format string, args ...any) {
	os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

// serve is a worker: it answers every request with its namespace and name, and on SIGTERM
// closes its listener (printing the stop event), finishes the requests under way and exits.
func serve(namespace, name string) error {
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s %s\n", namespace, name)
	})
	srv := &http.Server{Handler: mux}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-stop:
	}
	ln.Close()
	event("stop %s %s %d %d %d", namespace, name, port, os.Getpid(), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// A running worker: its name, port and process.
type running struct {
	name string
	port int
	cmd  *exec.Cmd
}

// supervisor holds the registry handle and the current generation of workers.
type supervisor struct {
	reg       *portpool.Registry
	namespace string
	names     []string
	current   map[string]*running
	reloads   int
}

func supervise(path, namespace, pool string, n int) error {
	reg, err := portpool.Open(path, portpool.WithNamespace(namespace))
	if err != nil {
		return err
	}
	defer reg.Close()
	s := &supervisor{reg: reg, namespace: namespace, current: map[string]*running{}}
	// A SIGHUP during a reload waits in this one-slot channel; more are coalesced into it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	defer s.stopAll()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("web-%d", i)
		s.names = append(s.names, name)
		if err := s.first(name, pool); err != nil {
			return err
		}
	}
	event("ready %s", namespace)
	for {
		select {
		case <-hup:
			if err := s.reload(); err != nil {
				fmt.Fprintf(os.Stderr, "supervisor %s: reload: %v\n", namespace, err)
			}
			s.reloads++
			event("reloaded %s %d", namespace, s.reloads)
		case <-term:
			return nil
		}
	}
}

// first starts name's first generation on a port leased and bound in one step.
func (s *supervisor) first(name, pool string) error {
	opts := []portpool.LeaseOption{portpool.WithHost(loopback)}
	if pool != "" {
		opts = append(opts, portpool.WithPool(pool))
	}
	ln, err := s.reg.Listen(name, opts...)
	if err != nil {
		return err
	}
	w, err := s.start(name, ln)
	if err != nil {
		return err
	}
	s.current[name] = w
	return healthy(w.port)
}

// reload hands every worker over to a new generation, all or none.
func (s *supervisor) reload() error {
	begun, err := s.reg.BeginHandovers(s.names, false)
	if err != nil {
		return err
	}
	endings := make([]portpool.Ending, len(begun))
	next := map[string]*running{}
	for i, h := range begun {
		endings[i] = portpool.Ending{Name: h.Name, Ticket: h.Ticket}
		if err == nil {
			next[h.Name], err = s.startOn(h.Name, h.Port)
		}
	}
	for _, w := range next {
		if err == nil {
			err = healthy(w.port)
		}
	}
	if err == nil {
		_, err = s.reg.CommitHandovers(endings, portpool.WithOwner(os.Getpid()))
	}
	if err != nil {
		if _, abortErr := s.reg.AbortHandovers(endings); abortErr != nil {
			err = errors.Join(err, abortErr)
		}
		stop(next)
		return err
	}
	old := s.current
	s.current = next
	time.Sleep(drainGrace)
	stop(old)
	return nil
}

var loopback = netip.MustParseAddr("127.0.0.1")

// startOn binds port (leased by a handover) on the loopback address and starts a worker on it.
func (s *supervisor) startOn(name string, port int) (*running, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return s.start(name, ln)
}

// start runs a worker serving ln (passed as fd 3), and prints its start event.
func (s *supervisor) start(name string, ln net.Listener) (*running, error) {
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	file, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, err
	}
	defer file.Close()
	bound := time.Now().UnixNano()
	cmd := exec.Command(os.Args[0], "-worker", "-namespace", s.namespace, "-name", name)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = os.Stdout, os.Stderr, []*os.File{file}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	event("start %s %s %d %d %d", s.namespace, name, port, cmd.Process.Pid, bound)
	return &running{name: name, port: port, cmd: cmd}, nil
}

// stop ends workers and waits for them (a worker that ignores SIGTERM for 5 s is killed).
func stop(workers map[string]*running) {
	for _, w := range workers {
		w.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, w := range workers {
		done := make(chan struct{})
		go func() { w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			w.cmd.Process.Kill()
			<-done
		}
	}
}

// stopAll stops every worker and gives the names' ports back, a handover's too.
func (s *supervisor) stopAll() {
	stop(s.current)
	for _, name := range s.names {
		s.reg.ReleaseAll(name)
	}
}

// healthy waits until the worker on port answers its health check.
func healthy(port int) error {
	client := http.Client{Timeout: 200 * time.Millisecond}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	deadline := time.Now().Add(healthTimeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker on port %d failed its health check: %w", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
