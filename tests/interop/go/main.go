// Command worker is the interop worker in Go: `worker REGISTRY WORKER_ID OPS LOG`.
//
// It runs the cycle every interop worker runs (see ../README.md) against pool "interop" of
// REGISTRY through the portpool Go package, and writes one JSON object per line to LOG. OPS 0
// only lists the registry once and logs what it saw. Any failed call exits 1 with the call and
// the error on stderr.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"portpool"
)

const pool = "interop"

// held is a lease this worker holds; Next is its handover port, nil when none is under way.
type held struct {
	Name  string `json:"name"`
	Port  int    `json:"port"`
	Proto string `json:"protocol"`
	Next  *int   `json:"next"`
}

// seenLease is a listed lease as logged.
type seenLease struct {
	Name     string `json:"name"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Next     *int   `json:"next"`
}

type worker struct {
	reg   *portpool.Registry
	id    string
	log   *bufio.Writer
	count int
}

func (w *worker) die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "worker %s: %s\n", w.id, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func (w *worker) write(record any) {
	line, err := json.Marshal(record)
	if err != nil {
		w.die("encoding a log record: %v", err)
	}
	w.log.Write(line)
	w.log.WriteByte('\n')
}

// check ends the worker on any error from a portpool call, and counts the call.
func (w *worker) check(call, name string, err error) {
	if err != nil {
		w.die("%s(%s) failed: %v", call, name, err)
	}
	w.count++
}

func (w *worker) event(ev string, h *held, port int) {
	w.write(map[string]any{"ev": ev, "name": h.Name, "port": port, "proto": h.Proto, "t": time.Now().UnixNano()})
}

// acquired is logged only after the call that leased the port returned.
func (w *worker) acquired(h *held, port int) { w.event("acq", h, port) }

// released is logged before the call that releases the port.
func (w *worker) released(h *held, port int) { w.event("rel", h, port) }

// allocate leases a port of the pool to name and returns what the worker then holds.
func (w *worker) allocate(name string, protocol portpool.Protocol) held {
	port, err := w.reg.Allocate(name, pool, portpool.WithProtocol(protocol))
	w.check("Allocate", name, err)
	h := held{Name: name, Port: port, Proto: protocol.String()}
	w.acquired(&h, port)
	return h
}

func (w *worker) beginHandover(h *held) {
	port, err := w.reg.BeginHandover(h.Name)
	w.check("BeginHandover", h.Name, err)
	h.Next = &port
	w.acquired(h, port)
}

// commitWithoutHandover commits a handover when none is under way: the one error the run
// expects.
func (w *worker) commitWithoutHandover(h *held) {
	port, err := w.reg.CommitHandover(h.Name)
	if !errors.Is(err, portpool.ErrNotFound) {
		w.die("CommitHandover(%s) without a handover gave %d, %v; want ErrNotFound", h.Name, port, err)
	}
	w.count++
}

// commitHandover commits h's handover; h then holds its next port.
func (w *worker) commitHandover(h *held) {
	w.released(h, h.Port)
	port, err := w.reg.CommitHandover(h.Name)
	w.check("CommitHandover", h.Name, err)
	if port != *h.Next {
		w.die("CommitHandover(%s) returned %d, begin gave %d", h.Name, port, *h.Next)
	}
	h.Port, h.Next = port, nil
}

func (w *worker) abortHandover(h *held) {
	w.released(h, *h.Next)
	port, err := w.reg.AbortHandover(h.Name)
	w.check("AbortHandover", h.Name, err)
	if port != *h.Next {
		w.die("AbortHandover(%s) returned %d, begin gave %d", h.Name, port, *h.Next)
	}
	h.Next = nil
}

func (w *worker) release(h *held) {
	w.released(h, h.Port)
	ok, err := w.reg.Release(h.Name)
	w.check("Release", h.Name, err)
	if !ok {
		w.die("Release(%s) found no lease", h.Name)
	}
}

// listAndLog lists the registry and logs it beside what this worker holds, for the driver.
func (w *worker) listAndLog(ev string, own []held) {
	leases, err := w.reg.List()
	w.check("List", "", err)
	seen := make([]seenLease, len(leases))
	for i, l := range leases {
		seen[i] = seenLease{Name: l.Name, Port: l.Port, Protocol: l.Protocol.String()}
		if l.Next != nil {
			next := l.Next.Port
			seen[i].Next = &next
		}
	}
	if own == nil {
		own = []held{}
	}
	w.write(map[string]any{"ev": ev, "own": own, "leases": seen})
}

func (w *worker) run(ops int) {
	if ops == 0 {
		w.listAndLog("seen", nil)
		return
	}
	keepers := []held{
		w.allocate(w.id+"-keep-a", portpool.TCP),
		w.allocate(w.id+"-keep-b", portpool.UDP),
	}
	for i := 0; w.count < ops; i++ {
		protocol := []portpool.Protocol{portpool.TCP, portpool.UDP, portpool.TCPUDP}[(i/3)%3]
		h := w.allocate(fmt.Sprintf("%s-t%d", w.id, i), protocol)
		kind := i % 3 // 0: hand over and commit, 1: hand over and abort, 2: neither
		if kind != 2 {
			w.beginHandover(&h)
		}
		w.listAndLog("list", append(append([]held{}, keepers...), h))
		switch kind {
		case 0:
			w.commitHandover(&h)
		case 1:
			w.abortHandover(&h)
		default:
			w.commitWithoutHandover(&h)
		}
		w.release(&h)
	}
	w.beginHandover(&keepers[0])
	w.commitHandover(&keepers[0])
	for _, h := range keepers {
		w.write(map[string]any{"ev": "keep", "name": h.Name, "port": h.Port, "protocol": h.Proto})
	}
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintf(os.Stderr, "usage: %s REGISTRY WORKER_ID OPS LOG\n", os.Args[0])
		os.Exit(2)
	}
	ops, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad OPS %q: %v\n", os.Args[3], err)
		os.Exit(2)
	}
	file, err := os.Create(os.Args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := &worker{id: os.Args[2], log: bufio.NewWriter(file)}
	if w.reg, err = portpool.Open(os.Args[1]); err != nil {
		w.die("Open(%s) failed: %v", os.Args[1], err)
	}
	w.run(ops)
	w.write(map[string]any{"ev": "done", "ops": w.count})
	if err := w.log.Flush(); err != nil {
		w.die("writing the log: %v", err)
	}
	if err := file.Close(); err != nil {
		w.die("writing the log: %v", err)
	}
	if err := w.reg.Close(); err != nil {
		w.die("Close failed: %v", err)
	}
}
