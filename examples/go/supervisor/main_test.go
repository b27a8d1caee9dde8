package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"portpool"
)

// The whole test may take this long; every wait inside it is bounded by it.
const budget = 3 * time.Minute

// A worker's life as the events show it: bound at start, listener closed at stop (0: never).
type life struct {
	ns, name    string
	port, pid   int
	start, stop int64
}

// events collects the lines supervisors print.
type events struct {
	mu       sync.Mutex
	lives    map[int]*life // by pid
	reloaded map[string]int
	ready    map[string]bool
}

func (e *events) read(t *testing.T, r io.Reader, done chan<- struct{}) {
	defer close(done)
	scan := bufio.NewScanner(r)
	for scan.Scan() {
		f := strings.Fields(scan.Text())
		e.mu.Lock()
		switch {
		case len(f) == 6 && (f[0] == "start" || f[0] == "stop"):
			port, _ := strconv.Atoi(f[3])
			pid, _ := strconv.Atoi(f[4])
			at, _ := strconv.ParseInt(f[5], 10, 64)
			l := e.lives[pid]
			if l == nil {
				l = &life{ns: f[1], name: f[2], port: port, pid: pid}
				e.lives[pid] = l
			}
			if f[0] == "start" {
				l.start = at
			} else {
				l.stop = at
			}
		case len(f) == 3 && f[0] == "reloaded":
			e.reloaded[f[1]], _ = strconv.Atoi(f[2])
		case len(f) == 2 && f[0] == "ready":
			e.ready[f[1]] = true
		default:
			t.Errorf("unexpected output: %q", scan.Text())
		}
		e.mu.Unlock()
	}
}

// until waits for cond (checked under the lock), failing the test after the deadline.
func (e *events) until(t *testing.T, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	for {
		e.mu.Lock()
		ok := cond()
		e.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeBlock is n consecutive loopback ports starting at one the kernel chose, all free now.
func freeBlock(t *testing.T, n int) int {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		start := l.Addr().(*net.TCPAddr).Port
		l.Close()
		free := start+n-1 <= 65535
		for p := start; free && p < start+n; p++ {
			free = must(portpool.IsFree(p, portpool.TCP))
		}
		if free {
			return start
		}
	}
	t.Fatal("no free block of ports")
	return 0
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Two supervisors in two namespaces share one pool and name their workers alike; both get 5
// bursts of 2 SIGHUPs 50 ms apart and 20 single reloads while a client sends requests to
// every worker the whole time.
func TestOverlappingReloadsNeverStartTwoWorkersOnOnePort(t *testing.T) {
	deadline := time.Now().Add(budget)
	dir := t.TempDir()
	registry := filepath.Join(dir, "registry.json")
	binary := filepath.Join(dir, "supervisor")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	reg := must(portpool.Open(registry))
	defer reg.Close()
	start := freeBlock(t, 16)
	must(reg.SetPool("shared", start, start+15))

	namespaces := []string{"project-a", "project-b"}
	ev := &events{lives: map[int]*life{}, reloaded: map[string]int{}, ready: map[string]bool{}}
	supervisors, readers := startSupervisors(t, ev, binary, registry, namespaces)
	defer func() {
		for _, cmd := range supervisors {
			cmd.Process.Kill()
		}
	}()
	ev.until(t, deadline, "both supervisors ready", func() bool { return len(ev.ready) == 2 })
	c := startClient(t, registry, namespaces)
	want := sendReloads(t, ev, deadline, supervisors)
	c.stop()
	for i, cmd := range supervisors {
		cmd.Process.Signal(syscall.SIGTERM)
		<-readers[i]
		if err := cmd.Wait(); err != nil {
			t.Errorf("supervisor %s: %v", namespaces[i], err)
		}
	}
	checkLives(t, ev, namespaces, want)
	t.Logf("requests: %d answered by the app addressed, %d by another, %d failed", c.ok.Load(), c.wrong.Load(), c.failed.Load())
	if c.ok.Load() == 0 {
		t.Error("the client got no answer at all")
	}
	if left := must(reg.ListAllNamespaces()); len(left) != 0 {
		t.Errorf("leases left behind: %+v", left)
	}
}

// startSupervisors runs one supervisor per namespace on the pool "shared", its output read
// into ev; each reader's channel closes when its supervisor's output ends.
func startSupervisors(t *testing.T, ev *events, binary, registry string, namespaces []string) ([]*exec.Cmd, []chan struct{}) {
	var supervisors []*exec.Cmd
	var readers []chan struct{}
	for _, ns := range namespaces {
		cmd := exec.Command(binary, "-registry", registry, "-namespace", ns, "-pool", "shared", "-workers", "2")
		cmd.Stderr = os.Stderr
		out := must(cmd.StdoutPipe())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		supervisors = append(supervisors, cmd)
		done := make(chan struct{})
		readers = append(readers, done)
		go ev.read(t, out, done)
	}
	return supervisors, readers
}

// client asks every worker of every namespace, addressed by namespace and name, until stopped.
type client struct {
	ok, wrong, failed atomic.Int64
	quit, done        chan struct{}
}

func (c *client) stop() {
	close(c.quit)
	<-c.done
}

func startClient(t *testing.T, registry string, namespaces []string) *client {
	c := &client{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		handles := map[string]*portpool.Registry{}
		for _, ns := range namespaces {
			handles[ns] = must(portpool.Open(registry, portpool.WithNamespace(ns)))
			defer handles[ns].Close()
		}
		httpClient := http.Client{Timeout: 2 * time.Second}
		for {
			for _, ns := range namespaces {
				for _, name := range []string{"web-1", "web-2"} {
					select {
					case <-c.quit:
						return
					default:
					}
					body, err := ask(&httpClient, handles[ns], name)
					switch {
					case err != nil:
						c.failed.Add(1)
						t.Logf("request to %s %s failed: %v", ns, name, err)
					case body != ns+" "+name+"\n":
						c.wrong.Add(1)
						t.Errorf("request to %s %s answered by %q", ns, name, body)
					default:
						c.ok.Add(1)
					}
				}
			}
		}
	}()
	return c
}

// sendReloads sends both supervisors 5 bursts of 2 SIGHUPs 50 ms apart, then 20 single
// SIGHUPs, each time waiting for the reloads to end; returns how many each should have run.
func sendReloads(t *testing.T, ev *events, deadline time.Time, supervisors []*exec.Cmd) int {
	want := 0
	hupAll := func() {
		for _, cmd := range supervisors {
			cmd.Process.Signal(syscall.SIGHUP)
		}
	}
	settled := func(n int) func() bool {
		return func() bool { return ev.reloaded["project-a"] >= n && ev.reloaded["project-b"] >= n }
	}
	for burst := 0; burst < 5; burst++ {
		hupAll()
		time.Sleep(50 * time.Millisecond)
		hupAll()
		// Coalesced: the second SIGHUP runs one more reload after the first.
		want += 2
		ev.until(t, deadline, fmt.Sprintf("reload %d", want), settled(want))
	}
	for single := 0; single < 20; single++ {
		hupAll()
		want++
		ev.until(t, deadline, fmt.Sprintf("reload %d", want), settled(want))
	}
	return want
}

// checkLives checks the reload counts and that no two workers' lives on one port overlap.
func checkLives(t *testing.T, ev *events, namespaces []string, want int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, ns := range namespaces {
		if got := ev.reloaded[ns]; got != want {
			t.Errorf("%s ran %d reloads, want %d (overlapping SIGHUPs coalesced)", ns, got, want)
		}
	}
	overlaps := 0
	for _, a := range ev.lives {
		if a.stop == 0 {
			t.Errorf("worker %+v never stopped", *a)
		}
		for _, b := range ev.lives {
			if a.pid < b.pid && a.port == b.port && a.start < b.stop && b.start < a.stop {
				overlaps++
				t.Errorf("workers %+v and %+v held port %d at once", *a, *b, a.port)
			}
		}
	}
	t.Logf("%d workers started; %d started on a port another live worker held", len(ev.lives), overlaps)
}

// ask sends one request to name's current port and returns the answer.
func ask(client *http.Client, reg *portpool.Registry, name string) (string, error) {
	port, err := reg.Get(name)
	if err != nil {
		return "", err
	}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
