// Code generated from core's LeaseOptions and tests/parity/options.tsv by cli/tests/parity/gen_go.rs; DO NOT EDIT.
// PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it; each kind's
// conversion is written once, in options.go.

package portpool

/*
#include "portpool.h"
*/
import "C"

import (
	"net/netip"
	"time"
	"unsafe"
)

// The lease options' bits in optionSet, in the order of core's LeaseOptions; the other
// options' bits follow (options.go).
const (
	setProtocol optionSet = 1 << iota
	setForce
	setOwner
	setTTL
	setExclude
	setRange
	setHost
	setBindable
)

// nLeaseOptions is how many bits the lease options take.
const nLeaseOptions = 8

// leaseOptionNames are the lease options' names, in the order of their bits.
var leaseOptionNames = []string{"WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithExclude", "WithRange", "WithHost", "WithBindable"}

// leaseValues holds what the C struct points to, copied into C memory by lease (cgo lets
// C keep no Go pointer inside a struct it is given).
type leaseValues struct {
	exclude []uint16
	host    string
}

// WithProtocol sets the lease option protocol. TCP (the default), UDP, or tcp+udp: one port number
// held for both.
//
// Of the calls that make leases or find ports, Register, RegisterAny, Allocate, AllocateMany,
// Lease, FindFree and FindFreeN take it.
func WithProtocol(p Protocol) LeaseOption {
	return func(o *leaseOptions) { o.c.protocol, o.set = C.portpool_protocol(p), o.set|setProtocol }
}

// WithForce sets the lease option force. Take the port even when a process outside the registry has
// it bound (a fixed-mode Register only; a port leased to another name is never taken), and return
// the port of a name whose live lease another user made, as every call of a handle opened with
// force does.
//
// Of the calls that make leases or find ports, Register, RegisterAny, Allocate, AllocateMany and
// Lease take it.
func WithForce() LeaseOption {
	return func(o *leaseOptions) { o.c.force, o.set = true, o.set|setForce }
}

// WithOwner sets the lease option pid. The process that owns the lease: once it exits, the lease is
// stale and is reclaimed. Zero means none, as everywhere in this package; a negative pid, or one
// that names no running process, is ErrInvalidArgument (checked by libportpool).
//
// Of the calls that make leases or find ports, Register, RegisterAny, Allocate, AllocateMany,
// Lease, Listen and ListenPacket take it.
func WithOwner(pid int) LeaseOption {
	return func(o *leaseOptions) { o.c.pid, o.set = C.int64_t(pid), o.set|setOwner }
}

// WithTTL sets the lease option ttl. Seconds the lease lives unless renewed. The duration is
// rounded up to whole seconds. Zero means none, as everywhere in this package; a negative one, or
// one over 100 years, is ErrInvalidArgument (checked by libportpool).
//
// Of the calls that make leases or find ports, Register, RegisterAny, Allocate, AllocateMany,
// Lease, Listen and ListenPacket take it.
func WithTTL(ttl time.Duration) LeaseOption {
	return func(o *leaseOptions) { o.c.ttl, o.set = C.int64_t(ttlSeconds(ttl)), o.set|setTTL }
}

// WithExclude sets the lease option exclude. Ports never handed out, even when preferred or next in
// the pool. Given more than once, the ports add up. A port outside 1-65535 is ErrInvalidArgument.
//
// Of the calls that make leases or find ports, Register, RegisterAny, Allocate, AllocateMany,
// Lease, Listen, ListenPacket, FindFree and FindFreeN take it.
func WithExclude(ports ...int) LeaseOption {
	checked, err := cPorts(ports)
	return func(o *leaseOptions) {
		o.exclude, o.set = append(o.exclude, checked...), o.set|setExclude
		if err != nil {
			o.err = err
		}
	}
}

// WithRange sets the lease option range. After the preferred ports, the ports of this range in
// order (inclusive), in either mode. Only with preferred ports: a pool has its own range, so
// Allocate refuses one. The range is lo to hi, inclusive. A port outside 1-65535, or lo above hi,
// is ErrInvalidArgument.
//
// Of the calls that make leases or find ports, Register, RegisterAny, Lease, Listen, ListenPacket,
// FindFree and FindFreeN take it.
func WithRange(lo, hi int) LeaseOption {
	start, end, err := cRange(lo, hi)
	return func(o *leaseOptions) {
		o.c.range_start, o.c.range_end, o.set = start, end, o.set|setRange
		if err != nil {
			o.err = err
		}
	}
}

// WithHost sets the lease option host. Probe candidates on this one address instead of the IPv4 and
// IPv6 wildcards: a port bound on another address may then be handed out, and is good only for a
// server bound to this one. Listen also binds there unless its listen options name an address. An
// ip that is not an address of this host is ErrInvalidArgument, and so is the zero netip.Addr. A
// netip.Addr is taken rather than a net.IP because it is a value: the option keeps no slice the
// caller may change, IPv4 and IPv4-mapped IPv6 stay apart, and the zero value is told from an
// address (use netip.AddrFromSlice to convert a net.IP).
//
// Of the calls that make leases or find ports, Register, RegisterAny, Allocate, AllocateMany,
// Lease, Listen, ListenPacket, FindFree, FindFreeN and IsFree take it.
func WithHost(ip netip.Addr) LeaseOption {
	host, err := cHost(ip)
	return func(o *leaseOptions) {
		o.host, o.set = host, o.set|setHost
		if err != nil {
			o.err = err
		}
	}
}

// WithBindable sets the lease option bindable. Probe candidates as this process will bind them, for
// a lease whose holder is the caller itself (as get-port's is): a port it may not bind, such as a
// privileged port for an unprivileged process, is unavailable. Off (the default), such a port is
// judged by the kernel's socket tables, as a lease may be for a privileged service.
//
// Of the calls that make leases or find ports, Register, RegisterAny, Allocate, AllocateMany and
// Lease take it.
func WithBindable() LeaseOption {
	return func(o *leaseOptions) { o.c.bindable, o.set = true, o.set|setBindable }
}

// lease returns the options for libportpool, the ports and host they point to copied into mem.
// The struct is a copy of its own: cgo checks the whole Go object a pointer points into, and
// leaseOptions holds Go pointers.
func (o *leaseOptions) lease(mem *cMemory) (*C.portpool_lease_options, error) {
	c := new(C.portpool_lease_options)
	*c = o.c
	c.struct_size = C.size_t(unsafe.Sizeof(*c))
	c.exclude, c.n_exclude = mem.ports(o.exclude), C.size_t(len(o.exclude))
	host, err := mem.optionalString("host", o.host)
	if err != nil {
		return nil, err
	}
	c.host = host
	return c, nil
}
