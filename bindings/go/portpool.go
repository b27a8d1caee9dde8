// Package portpool is the Go binding of portpool: one port registry per host, shared by every
// process and language (the portpool command line, C, Python, Node and Go programs).
//
// It calls libportpool, the C library, through cgo. Every function returns (value, error);
// errors wrap one of the sentinel errors (ErrNotFound, ErrInvalidArgument, ErrConflict,
// ErrExhausted, ErrRegistry, ErrIO, ErrBusy, ErrInternal) and carry the library's message:
//
//	reg, err := portpool.Open("") // "" means the default registry path
//	if err != nil {
//		return err
//	}
//	defer reg.Close()
//	port, err := reg.Allocate("worker-1", "") // "" means the "default" pool
//	if errors.Is(err, portpool.ErrExhausted) {
//		// every port of the pool is leased
//	}
//
// # Serving on a leased port
//
// Registry.Listen and Registry.ListenPacket lease a port and bind it in one step, under the
// registry's lock, and return a net.Listener or net.PacketConn: no process can take the port
// between the lease and the bind. Closing the listener does not release the lease (Release
// does, or the owner process's exit):
//
//	l, err := reg.Listen("web", portpool.WithPool("web"))
//	if err != nil {
//		return err
//	}
//	defer reg.Release("web")
//	return http.Serve(l, handler) // the port: l.Addr().(*net.TCPAddr).Port
//
// # Linking
//
// Inside the portpool source tree the package links target/release/libportpool.a (built by
// `make -C ffi`) by its path, so programs need no LD_LIBRARY_PATH and no CGO_* variable. An
// installed copy (`make install`) links the installed libportpool through pkg-config; in the
// tree, `go build -tags portpool_pkgconfig` does the same. See README.md.
//
// # Goroutines
//
// A *Registry may be used from many goroutines at once. Each libportpool call hands back its
// own error, so no call pins its goroutine to an OS thread.
package portpool

/*
#include <stdlib.h>
#include "portpool.h"
*/
import "C"

import (
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// ABIVersion is the version of the C ABI this package was built against: the
// PORTPOOL_ABI_VERSION of portpool.h.
const ABIVersion = C.PORTPOOL_ABI_VERSION

// Registry is a handle on one registry file. Opening one does not touch the disk; each call
// that changes the registry locks the file for its own duration only (waiting at most the
// lock timeout, then ErrBusy), so any number of handles, in any number of processes, may use
// one registry at once. Calls that only read take no lock.
//
// A change returns once it is on the disk, unless it concerns only leases owned by a
// process (WithOwner) or a pool's cursor: those survive any crash of a process, but not a
// power loss, after which their owners are gone anyway.
type Registry struct {
	mu sync.RWMutex // held shared by calls, exclusively by Close
	h  *C.portpool_registry
}

// Open returns a handle on the registry file at path. An empty path means the default:
// $PORTPOOL_REGISTRY, else /var/lib/portpool/registry.json for root, else
// $XDG_STATE_HOME/portpool/registry.json (~/.local/state/portpool/registry.json). The file is
// created on the first change. Close the Registry when done with it.
//
// WithNamespace opens the handle on one namespace's names.
func Open(path string, opts ...OpenOption) (*Registry, error) {
	var o openOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	var cpath *C.char
	if path != "" {
		var err error
		if cpath, err = cString("registry path", path); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cpath))
	}
	var h *C.portpool_registry
	open := func(e **C.portpool_error) C.enum_portpool_status { return C.portpool_open(cpath, &h, e) }
	if o.namespace != nil {
		cns, err := cString("namespace", *o.namespace)
		if err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cns))
		open = func(e **C.portpool_error) C.enum_portpool_status { return C.portpool_open_namespace(cpath, cns, &h, e) }
	}
	if err := withError(open); err != nil {
		return nil, err
	}
	r := &Registry{h: h}
	runtime.SetFinalizer(r, (*Registry).Close)
	return r, nil
}

// Close releases the handle. Calls on a closed Registry return ErrInvalidArgument; closing
// twice does nothing. Leases are kept: they belong to the registry, not to the handle.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		C.portpool_close(r.h)
		r.h = nil
		runtime.SetFinalizer(r, nil)
	}
	return nil
}

// SetLockTimeout sets how long calls on r that change the registry wait for another
// process's lock before failing with ErrBusy (0: not at all; rounded down to milliseconds).
// Negative or over a year is ErrInvalidArgument, as for $PORTPOOL_LOCK_TIMEOUT. The default
// is $PORTPOOL_LOCK_TIMEOUT seconds when Open saw it set, else 10 s.
func (r *Registry) SetLockTimeout(d time.Duration) error {
	return r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_set_lock_timeout(h, C.int64_t(d.Milliseconds()), e) // libportpool checks it
	})
}

// SetForce sets whether calls on r may change what another user made: with force, Release,
// Register and Allocate (of a name another user's lease holds), the handover calls and
// SetOwner act on leases another user made, SetPool changes pools another user created, and
// Reset empties a registry where another user holds a live lease; without (the default),
// each of those is ErrConflict naming that user, unless the caller is root. A rail against
// accidents, not a wall: any member of the registry's group may set it.
func (r *Registry) SetForce(force bool) error {
	return r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_set_force(h, C.bool(force), e)
	})
}

// Path returns the registry file's path, as given to Open or as resolved from the defaults.
func (r *Registry) Path() (string, error) {
	var out *C.char
	err := r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_registry_path(h, &out, e)
	})
	return takeString(out), err
}

// Version returns the version of the libportpool linked in, e.g. "0.1.0".
func Version() string {
	return C.GoString(C.portpool_version())
}

// LibraryABIVersion returns the C ABI version of the libportpool linked in; it equals
// ABIVersion when the library and this package match.
func LibraryABIVersion() int {
	return int(C.portpool_abi_version())
}

// withError runs one libportpool call and returns the error that came back with it. The error
// is the call's own (its out_error), not the thread's, so the goroutine may move between OS
// threads at any time.
func withError(call func(e **C.portpool_error) C.enum_portpool_status) error {
	var e *C.portpool_error
	status := call(&e)
	return statusError(status, e)
}

var errClosed = &Error{Kind: ErrInvalidArgument, Message: "invalid registry: it is closed"}

// call runs one libportpool call on the open handle.
func (r *Registry) call(call func(*C.portpool_registry, **C.portpool_error) C.enum_portpool_status) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.h == nil {
		return errClosed
	}
	return withError(func(e **C.portpool_error) C.enum_portpool_status { return call(r.h, e) })
}

// jsonOf runs one libportpool call that returns JSON, and decodes it into a T.
func jsonOf[T any](r *Registry, call func(*C.portpool_registry, **C.char, **C.portpool_error) C.enum_portpool_status) (T, error) {
	var value T
	var out *C.char
	err := r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status { return call(h, &out, e) })
	text := takeString(out)
	if err == nil {
		err = decode(text, &value)
	}
	return value, err
}

// portOf runs a call that takes a name and returns a port.
func (r *Registry) portOf(name string, call func(*C.portpool_registry, *C.char, *C.uint16_t, **C.portpool_error) C.enum_portpool_status) (int, error) {
	return withCString("name", name, func(cname *C.char) (int, error) {
		var out C.uint16_t
		err := r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
			return call(h, cname, &out, e)
		})
		return int(out), err
	})
}

// cPort is port for C, checked by libportpool as core checks every port: 1-65535, else
// ErrInvalidArgument with core's message. Ports are int in Go, as in package net.
func cPort(port int) (C.uint16_t, error) {
	var out C.uint16_t
	err := withError(func(e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_port_from_int(C.int64_t(port), &out, e)
	})
	return out, err
}

// cCount is a count of ports for C, checked by libportpool as core checks every count:
// 1-65535, else ErrInvalidArgument with core's message.
func cCount(n int) (C.size_t, error) {
	var out C.size_t
	err := withError(func(e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_count_from_int(C.int64_t(n), &out, e)
	})
	return out, err
}

// cPorts is cPort of each of ports.
func cPorts(ports []int) ([]uint16, error) {
	out := make([]uint16, len(ports))
	for i, port := range ports {
		p, err := cPort(port)
		if err != nil {
			return nil, err
		}
		out[i] = uint16(p)
	}
	return out, nil
}

// leaseOf runs a call that takes a name and returns a lease as JSON.
func (r *Registry) leaseOf(name string, call func(*C.portpool_registry, *C.char, **C.char, **C.portpool_error) C.enum_portpool_status) (Lease, error) {
	return withCString("name", name, func(cname *C.char) (Lease, error) {
		return jsonOf[Lease](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
			return call(h, cname, out, e)
		})
	})
}

// withCString runs f with s copied for C (what names s in an error), and frees the copy.
func withCString[T any](what, s string, f func(*C.char) (T, error)) (T, error) {
	cs, err := cString(what, s)
	if err != nil {
		var zero T
		return zero, err
	}
	defer C.free(unsafe.Pointer(cs))
	return f(cs)
}

// withOptionalCString is withCString where "" means NULL (libportpool's default).
func withOptionalCString[T any](what, s string, f func(*C.char) (T, error)) (T, error) {
	if s == "" {
		return f(nil)
	}
	return withCString(what, s, f)
}

// cMemory is C memory made for the arguments of one call, freed together after it (cgo lets C
// keep no pointer to Go memory inside a struct it is given).
type cMemory []unsafe.Pointer

// string copies s for C (what names it in an error).
func (m *cMemory) string(what, s string) (*C.char, error) {
	cs, err := cString(what, s)
	if err == nil {
		*m = append(*m, unsafe.Pointer(cs))
	}
	return cs, err
}

// optionalString copies s for C (what names it in errors); NULL when s is empty.
func (m *cMemory) optionalString(what, s string) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	return m.string(what, s)
}

// ports copies ports for C; NULL when there are none.
func (m *cMemory) ports(ports []uint16) *C.uint16_t {
	if len(ports) == 0 {
		return nil
	}
	p := (*C.uint16_t)(C.malloc(C.size_t(len(ports)) * C.size_t(unsafe.Sizeof(C.uint16_t(0)))))
	*m = append(*m, unsafe.Pointer(p))
	copy(unsafe.Slice(p, len(ports)), unsafe.Slice((*C.uint16_t)(unsafe.Pointer(&ports[0])), len(ports)))
	return p
}

// free frees everything m holds.
func (m *cMemory) free() {
	for _, p := range *m {
		C.free(p)
	}
	*m = nil
}

// cString copies s for C, which cannot hold a NUL byte. Free the result with C.free. The
// error names the byte offset rather than echoing s, which may be huge.
func cString(what, s string) (*C.char, error) {
	if at := strings.IndexByte(s, 0); at >= 0 {
		return nil, invalid("invalid %s: contains a NUL byte at byte %d", what, at)
	}
	return C.CString(s), nil
}

// takeString copies a string libportpool returned and frees it; NULL gives "".
func takeString(s *C.char) string {
	if s == nil {
		return ""
	}
	defer C.portpool_string_free(s)
	return C.GoString(s)
}

// OpenOption sets an option of Open.
type OpenOption func(*openOptions)

type openOptions struct {
	namespace *string
}

// WithNamespace makes the handle read and write only the names of namespace ns, so two
// supervisors may both name a worker "worker-1"; ports stay unique across every namespace,
// and List lists ns only (ListAllNamespaces lists all). A namespace is named as a lease is
// (1-128 bytes, no whitespace or control characters), else Open returns ErrInvalidArgument.
func WithNamespace(ns string) OpenOption {
	return func(o *openOptions) { o.namespace = &ns }
}
