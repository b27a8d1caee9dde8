// Package portpool is the Go binding of portpool: one port registry per host, shared by every
// process and language (the portpool command line, C, Python, Node and Go programs).
//
// It calls libportpool, the C library, through cgo. Every function returns (value, error);
// errors wrap one of the sentinel errors (ErrNotFound, ErrInvalidArgument, ErrConflict,
// ErrExhausted, ErrRegistry, ErrIO) and carry the library's message:
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
// # Linking
//
// The package links with -lportpool. With libportpool installed (make -C ffi install), that
// needs nothing more, or set CGO_CFLAGS and CGO_LDFLAGS from `pkg-config --cflags --libs
// portpool`. Inside the portpool source tree, `make -C bindings/go test` builds
// libportpool.a and points CGO_LDFLAGS at a directory holding only it, so Go programs link it
// statically and need no LD_LIBRARY_PATH.
//
// # Goroutines
//
// A *Registry may be used from many goroutines at once. Each call pins its goroutine to one OS
// thread for its duration, because libportpool keeps the error message per thread.
package portpool

/*
#include <stdlib.h>
#include "portpool.h"
*/
import "C"

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// ABIVersion is the version of the C ABI this package was written against.
const ABIVersion = 2

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
func Open(path string) (*Registry, error) {
	var cpath *C.char
	if path != "" {
		var err error
		if cpath, err = cString("registry path", path); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cpath))
	}
	var h *C.portpool_registry
	if err := locked(func() C.enum_portpool_status { return C.portpool_open(cpath, &h) }); err != nil {
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
// process's lock before failing with ErrBusy (0: not at all; rounded down to milliseconds,
// at most about 49 days). The default is $PORTPOOL_LOCK_TIMEOUT seconds when Open saw it set,
// else 10 s.
func (r *Registry) SetLockTimeout(d time.Duration) error {
	if d < 0 {
		return invalid("invalid lock timeout %v: negative", d)
	}
	ms := d.Milliseconds()
	if ms > math.MaxUint32 {
		ms = math.MaxUint32
	}
	return r.call(func(h *C.portpool_registry) C.enum_portpool_status {
		return C.portpool_set_lock_timeout(h, C.uint32_t(ms))
	})
}

// Path returns the registry file's path, as given to Open or as resolved from the defaults.
func (r *Registry) Path() (string, error) {
	var out *C.char
	err := r.call(func(h *C.portpool_registry) C.enum_portpool_status {
		return C.portpool_registry_path(h, &out)
	})
	return takeString(out), err
}

// LeaseOption sets an option of a new lease, for Register and Allocate.
type LeaseOption func(*leaseOptions)

type leaseOptions struct {
	c   C.portpool_lease_options
	err error
	// set records which options were given, for calls that accept only some.
	set optionSet
}

type optionSet uint8

const (
	setProtocol optionSet = 1 << iota
	setForce
	setOwner
	setTTL
)

// WithProtocol leases a port of protocol p (TCP by default).
func WithProtocol(p Protocol) LeaseOption {
	return func(o *leaseOptions) { o.c.protocol, o.set = C.portpool_protocol(p), o.set|setProtocol }
}

// WithForce lets a fixed-mode Register take a port that a process outside the registry has
// bound. A port leased to another name is never taken.
func WithForce() LeaseOption {
	return func(o *leaseOptions) { o.c.force, o.set = true, o.set|setForce }
}

// WithOwner makes process pid the lease's owner: once it exits, the lease is stale and is
// reclaimed. For BeginHandover, CommitHandover and AbortHandover it names the next
// generation's process. Zero means no owner, as everywhere in this package; a negative pid,
// or one that names no running process, is ErrInvalidArgument (checked by libportpool).
func WithOwner(pid int) LeaseOption {
	return func(o *leaseOptions) {
		o.set |= setOwner
		o.c.pid = C.int64_t(pid)
	}
}

// WithTTL gives the lease a time to live, rounded up to whole seconds: it is stale once ttl
// passes without a Renew. Zero means no time to live, as everywhere in this package; a
// negative one, or one over 100 years, is ErrInvalidArgument (checked by libportpool).
func WithTTL(ttl time.Duration) LeaseOption {
	return func(o *leaseOptions) {
		o.set |= setTTL
		o.c.ttl = C.int64_t(ttlSeconds(ttl))
	}
}

// ttlSeconds converts a duration to whole seconds for libportpool, rounding up, so that a
// lease never ends early: any positive duration is at least 1 s, any negative one at most
// -1 s (which libportpool refuses, naming it).
func ttlSeconds(ttl time.Duration) int64 {
	seconds := int64(ttl / time.Second)
	if rest := ttl % time.Second; rest > 0 {
		seconds++
	} else if rest < 0 && seconds == 0 {
		seconds = -1
	}
	return seconds
}

func buildOptions(opts []LeaseOption) (*C.portpool_lease_options, error) {
	o, err := collectOptions(opts, setProtocol|setForce|setOwner|setTTL, "")
	if err != nil {
		return nil, err
	}
	return &o.c, nil
}

// collectOptions applies opts (a nil one is ignored) and refuses any outside allowed, which
// call names in the error.
func collectOptions(opts []LeaseOption, allowed optionSet, call string) (leaseOptions, error) {
	var o leaseOptions
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		opt(&o)
		if o.err != nil {
			return o, o.err
		}
	}
	if o.set&^allowed != 0 {
		return o, invalid("%s takes only %s", call, allowedNames(allowed))
	}
	return o, nil
}

func allowedNames(allowed optionSet) string {
	switch allowed {
	case setOwner:
		return "WithOwner"
	case setTTL:
		return "WithTTL"
	}
	return "lease options"
}

// Register leases a port to name and returns it.
//
// ModeFlexible gives port when it is neither leased nor bound, else the next such port above
// it (ErrExhausted when none is left). ModeFixed gives exactly port, or ErrConflict naming the
// holder. A name that already holds a lease gets its port back; asking it for another fixed
// port or the other protocol is ErrConflict. The lease is permanent TCP unless opts say
// otherwise.
func (r *Registry) Register(name string, port uint16, mode Mode, opts ...LeaseOption) (uint16, error) {
	options, err := buildOptions(opts)
	if err != nil {
		return 0, err
	}
	cname, err := cString("name", name)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cname))
	var out C.uint16_t
	err = r.call(func(h *C.portpool_registry) C.enum_portpool_status {
		return C.portpool_register_ex(h, cname, C.uint16_t(port), C.portpool_mode(mode), options, &out)
	})
	return uint16(out), err
}

// Allocate leases the next free port of pool to name and returns it. An empty pool means
// "default" (9000-9999 unless changed). The pool's round-robin cursor is shared by every
// process on the host. A name that already holds a lease gets its port back. An unknown pool
// is ErrNotFound; a pool with no free port is ErrExhausted.
func (r *Registry) Allocate(name, pool string, opts ...LeaseOption) (uint16, error) {
	options, err := buildOptions(opts)
	if err != nil {
		return 0, err
	}
	cname, err := cString("name", name)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cname))
	var cpool *C.char
	if pool != "" {
		if cpool, err = cString("pool", pool); err != nil {
			return 0, err
		}
		defer C.free(unsafe.Pointer(cpool))
	}
	var out C.uint16_t
	err = r.call(func(h *C.portpool_registry) C.enum_portpool_status {
		return C.portpool_allocate_ex(h, cname, cpool, options, &out)
	})
	return uint16(out), err
}

// Get returns the port name holds; ErrNotFound when it holds none, or only a stale lease (its
// time to live over, or its owner gone).
func (r *Registry) Get(name string) (uint16, error) {
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_get(h, cname, out)
	})
}

// GetLease returns the whole lease name holds, as it stands now (a handover its owners'
// deaths settled, applied); ErrNotFound when it holds none, or only a stale one.
func (r *Registry) GetLease(name string) (Lease, error) {
	cname, err := cString("name", name)
	if err != nil {
		return Lease{}, err
	}
	defer C.free(unsafe.Pointer(cname))
	var lease leaseJSON
	err = r.callJSON(&lease, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_get_json(h, cname, out)
	})
	return lease.lease(), err
}

// Release releases name's lease and reports whether there was one; an unknown name is not an
// error.
func (r *Registry) Release(name string) (bool, error) {
	cname, err := cString("name", name)
	if err != nil {
		return false, err
	}
	defer C.free(unsafe.Pointer(cname))
	var out C.bool
	err = r.call(func(h *C.portpool_registry) C.enum_portpool_status {
		return C.portpool_release(h, cname, &out)
	})
	return bool(out), err
}

// List returns every lease as recorded, sorted by name; a stale one says why in Lease.Stale.
func (r *Registry) List() ([]Lease, error) {
	var raw []leaseJSON
	err := r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_list_json(h, out)
	})
	if err != nil {
		return nil, err
	}
	return leases(raw), nil
}

// Pools returns every pool, sorted by name; the "default" pool is always there.
func (r *Registry) Pools() ([]Pool, error) {
	var raw []poolJSON
	err := r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_pools_json(h, out)
	})
	if err != nil {
		return nil, err
	}
	pools := make([]Pool, len(raw))
	for i, p := range raw {
		pools[i] = p.pool()
	}
	return pools, nil
}

// PoolOption sets an option of SetPool.
type PoolOption func(*poolOptions)

type poolOptions struct {
	probe C.portpool_probe
}

// WithProbe turns bind-probing of the pool's candidate ports on or off (off suits a range
// reserved for portpool). Without it a new pool probes and an existing one keeps its setting.
func WithProbe(on bool) PoolOption {
	return func(o *poolOptions) {
		if on {
			o.probe = C.PORTPOOL_PROBE_ON
		} else {
			o.probe = C.PORTPOOL_PROBE_OFF
		}
	}
}

// SetPool creates pool name over start..end (inclusive) or changes its range, and returns
// it. A cursor outside the new range restarts at start; leases already made are kept.
func (r *Registry) SetPool(name string, start, end uint16, opts ...PoolOption) (Pool, error) {
	o := poolOptions{probe: C.PORTPOOL_PROBE_DEFAULT}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	cname, err := cString("pool", name)
	if err != nil {
		return Pool{}, err
	}
	defer C.free(unsafe.Pointer(cname))
	var pool poolJSON
	err = r.callJSON(&pool, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_set_pool(h, cname, C.uint16_t(start), C.uint16_t(end), o.probe, out)
	})
	return pool.pool(), err
}

// Check tells whether port is free, leased (the holder's lease is returned) or bound by a
// process outside the registry. Stale leases count as free. The answer is a snapshot.
func (r *Registry) Check(port uint16, protocol Protocol) (PortState, *Lease, error) {
	var state C.enum_portpool_port_state
	var out *C.char
	err := r.call(func(h *C.portpool_registry) C.enum_portpool_status {
		return C.portpool_check(h, C.uint16_t(port), C.portpool_protocol(protocol), &state, &out)
	})
	text := takeString(out)
	if err != nil {
		return PortUnknown, nil, err
	}
	if text == "" {
		return PortState(state) + portStateOffset, nil, nil
	}
	var holder leaseJSON
	if err := decode(text, &holder); err != nil {
		return PortUnknown, nil, err
	}
	lease := holder.lease()
	return PortState(state) + portStateOffset, &lease, nil
}

// GC settles every stale lease and returns each as it was, with why: leases whose time to live
// is over or whose owners are gone are released; a handover whose current owner is gone while
// its next generation lives is committed; one whose next generation's owner is gone releases
// only the next port.
func (r *Registry) GC() ([]Reclaimed, error) {
	var raw []reclaimedJSON
	err := r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_gc(h, nil, out)
	})
	if err != nil {
		return nil, err
	}
	reclaimed := make([]Reclaimed, len(raw))
	for i, item := range raw {
		reclaimed[i] = Reclaimed{Lease: item.Lease.lease(), Reason: item.Reason}
	}
	return reclaimed, nil
}

// Renew restarts name's time to live from now, with WithTTL's (rounded up to whole seconds)
// or, without it, the time to live the lease was given; it returns the renewed lease. An
// unknown or stale name is ErrNotFound (a stale lease is never revived); a lease without a
// time to live renewed without WithTTL is ErrInvalidArgument. Only WithTTL is accepted.
func (r *Registry) Renew(name string, opts ...LeaseOption) (Lease, error) {
	o, err := collectOptions(opts, setTTL, "Renew")
	if err != nil {
		return Lease{}, err
	}
	seconds := o.c.ttl
	cname, err := cString("name", name)
	if err != nil {
		return Lease{}, err
	}
	defer C.free(unsafe.Pointer(cname))
	var lease leaseJSON
	err = r.callJSON(&lease, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_renew(h, cname, seconds, out)
	})
	return lease.lease(), err
}

// Reset empties the registry: no leases, and only the default pool at 9000-9999.
func (r *Registry) Reset() error {
	return r.call(func(h *C.portpool_registry) C.enum_portpool_status { return C.portpool_reset(h) })
}

// IsFree tells whether port can be bound for protocol on this host right now, on both the
// IPv4 and IPv6 wildcard addresses. It ignores the registry; the answer is a snapshot.
func IsFree(port uint16, protocol Protocol) (bool, error) {
	var out C.bool
	err := locked(func() C.enum_portpool_status {
		return C.portpool_is_free(C.uint16_t(port), C.portpool_protocol(protocol), &out)
	})
	return bool(out), err
}

// FindFree returns a port that the kernel picked as free, outside any registry: for tests and
// tools that bind it at once. It takes no lease.
func FindFree(protocol Protocol) (uint16, error) {
	var out C.uint16_t
	err := locked(func() C.enum_portpool_status {
		return C.portpool_find_free(C.portpool_protocol(protocol), &out)
	})
	return uint16(out), err
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

// locked runs one libportpool call and reads its message on the same OS thread.
func locked(call func() C.enum_portpool_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return statusError(call())
}

var errClosed = &Error{Kind: ErrInvalidArgument, Message: "invalid registry: it is closed"}

// call runs one libportpool call on the open handle.
func (r *Registry) call(call func(*C.portpool_registry) C.enum_portpool_status) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.h == nil {
		return errClosed
	}
	return locked(func() C.enum_portpool_status { return call(r.h) })
}

// callJSON runs one libportpool call that returns JSON, and decodes it into into.
func (r *Registry) callJSON(into any, call func(*C.portpool_registry, **C.char) C.enum_portpool_status) error {
	var out *C.char
	err := r.call(func(h *C.portpool_registry) C.enum_portpool_status { return call(h, &out) })
	text := takeString(out)
	if err != nil {
		return err
	}
	return decode(text, into)
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
