package portpool

// Scoped leases: a lease for one scope of this process, ended by Close (core's scoped lease,
// with the one behaviour every front end shares).

/*
#include "portpool.h"
*/
import "C"

import (
	"runtime"
	"sync"
)

// ScopedLease is a lease for one scope of this process (a test, a request, a child process's
// lifetime), from Registry.Lease: its port is the caller's until Close releases it.
//
// The lease lives in the registry, not in this value: a ScopedLease dropped without Close
// releases nothing (the garbage collector only frees its memory), and the lease stays until
// its owner (this process, unless WithOwner said otherwise) exits, when the next allocation or
// GC reclaims it. A ScopedLease may be used from many goroutines; Close must come after every
// other use.
type ScopedLease struct {
	reg  *Registry
	port int
	mu   sync.Mutex // held by Close
	h    *C.portpool_lease
}

// Lease leases a new port to name for one scope of this process, and returns it; release it
// with Close, typically deferred:
//
//	lease, err := reg.Lease("test-server", portpool.WithPool("tests"))
//	if err != nil {
//		return err
//	}
//	defer lease.Close()
//	serve(lease.Port())
//
// The port is the next free one of the default pool, or of WithPool's, or the first of
// WithPort/WithPorts that WithMode allows, then of WithRange's; never one of WithExclude's.
// The lease is always new: a name that already holds a live lease is ErrConflict and nothing
// changes (a stale one is reclaimed). It is owned by WithOwner's process, else by this one,
// so it is reclaimed if this process dies first. Lease takes WithPool, WithPort, WithPorts,
// WithMode, WithRange, WithExclude, WithHost, WithProtocol, WithForce, WithOwner and WithTTL.
//
// Between Lease and the server's bind, a process outside the registry may still take the
// port; Listen leases and binds in one step.
func (r *Registry) Lease(name string, opts ...LeaseOption) (*ScopedLease, error) {
	o, err := collectOptions(opts, allowed("Lease"), "Lease")
	if err != nil {
		return nil, err
	}
	var mem cMemory
	defer mem.free()
	choice, err := o.choice(&mem)
	if err != nil {
		return nil, err
	}
	options, err := o.lease(&mem)
	if err != nil {
		return nil, err
	}
	return withCString("name", name, func(cname *C.char) (*ScopedLease, error) {
		var h *C.portpool_lease
		err := r.call(func(reg *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
			return C.portpool_lease_open(reg, cname, choice, options, &h, e)
		})
		if err != nil {
			return nil, err
		}
		l := &ScopedLease{reg: r, h: h, port: int(C.portpool_lease_port(h))}
		runtime.SetFinalizer(l, (*ScopedLease).free)
		return l, nil
	})
}

// Port returns the leased port.
func (l *ScopedLease) Port() int { return l.port }

// Close ends the scope: it releases the lease, once, if this is the process that made it and
// the name still holds this port (a lease released or handed over meanwhile is left alone).
// Closing again does nothing. After an error (ErrBusy, say) the lease stays in the registry
// until its owner exits or its name is released; Close does not try again.
func (l *ScopedLease) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == nil {
		return nil
	}
	h := l.h
	l.h = nil
	runtime.SetFinalizer(l, nil)
	err := l.reg.call(func(reg *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_lease_close(reg, h, nil, e)
	})
	if err == errClosed { // libportpool never saw the handle
		C.portpool_lease_free(h)
	}
	return err
}

// free forgets the handle without releasing the lease: the finalizer of a ScopedLease that was
// never closed.
func (l *ScopedLease) free() {
	C.portpool_lease_free(l.h)
	l.h = nil
}
