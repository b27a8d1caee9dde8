package portpool

// The options of the calls that choose ports, make leases and pools: each is a function applied
// in order, so a call takes any number of them and a new option never changes a signature.

/*
#include "portpool.h"
*/
import "C"

import (
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// LeaseOption sets an option of a call that chooses a port: Register, RegisterAny, Allocate,
// AllocateMany, Lease, Listen, ListenPacket, FindFree and FindFreeN, and the few that Renew
// and the handover calls take. Each call says which options it takes, and refuses the others
// with ErrInvalidArgument, before anything is read or written.
type LeaseOption func(*leaseOptions)

type leaseOptions struct {
	c   C.portpool_lease_options
	err error
	// set records which options were given, for calls that accept only some.
	set optionSet
	// How Lease and Listen choose their port: a pool, or ports in a mode.
	pool  string
	ports []uint16
	mode  Mode
	// What the C struct points to, copied into C memory by lease (cgo lets C keep no Go
	// pointer inside a struct it is given).
	exclude []uint16
	host    string
	// Listen only: the queue of connections not yet accepted (0: the kernel's somaxconn).
	backlog C.int64_t
}

type optionSet uint16

const (
	setProtocol optionSet = 1 << iota
	setForce
	setOwner
	setTTL
	setPool
	setPorts
	setMode
	setRange
	setExclude
	setHost
	setBacklog
	setBindable
)

// The options' names, in the order of the bits above, for errors.
var optionNames = []string{"WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithPool", "WithPort",
	"WithMode", "WithRange", "WithExclude", "WithHost", "WithBacklog", "WithBindable"}

// optionsNamed is the set of the options named (as tests/parity/options.tsv names them, for
// options_table.go); a name no option has panics, which the package's tests catch at init.
func optionsNamed(names ...string) optionSet {
	var set optionSet
	for _, name := range names {
		if name == "WithPorts" { // sets what WithPort sets
			name = "WithPort"
		}
		bit := slices.Index(optionNames, name)
		if bit < 0 {
			panic("portpool: options_table.go names no option " + name)
		}
		set |= 1 << bit
	}
	return set
}

// allowed is the set of options call takes, from tests/parity/options.tsv.
func allowed(call string) optionSet {
	set, ok := allowedOptions[call]
	if !ok {
		panic("portpool: options_table.go has no call " + call)
	}
	return set
}

// WithProtocol leases a port of protocol p (TCP by default).
func WithProtocol(p Protocol) LeaseOption {
	return func(o *leaseOptions) { o.c.protocol, o.set = C.portpool_protocol(p), o.set|setProtocol }
}

// WithForce lets a fixed-mode Register take a port that a process outside the registry has
// bound. A port leased to another name is never taken. It also lets Register and Allocate
// return the port of a name whose live lease another user made (as SetForce does for every
// call).
func WithForce() LeaseOption {
	return func(o *leaseOptions) { o.c.force, o.set = true, o.set|setForce }
}

// WithBindable probes candidate ports as this process will bind them, for a lease it serves
// on itself: a port it may not bind (a privileged port, for an unprivileged process) is
// unavailable. Without it, such a port is judged by the kernel's socket tables, as a lease
// may be for a privileged service.
func WithBindable() LeaseOption {
	return func(o *leaseOptions) { o.c.bindable, o.set = true, o.set|setBindable }
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

// WithPool takes the port of Lease, Listen or ListenPacket from pool (by default, the
// "default" pool). It cannot be combined with WithPort or WithRange (ErrInvalidArgument).
func WithPool(pool string) LeaseOption {
	return func(o *leaseOptions) { o.pool, o.set = pool, o.set|setPool }
}

// WithPort is WithPorts with one port: Lease, Listen or ListenPacket take port as WithMode
// says (flexible by default: port, or the next free one above it) instead of a pool's next
// free port.
func WithPort(port int) LeaseOption { return WithPorts(port) }

// WithPorts gives the preferred ports, in order. Lease, Listen and ListenPacket take the first
// of them that WithMode allows (then WithRange's, if given) instead of a pool's next free
// port; FindFree and FindFreeN try them first. Given twice, the last one counts.
// RegisterAny takes its preferred ports as an argument instead.
// Each port must be 1-65535, else ErrInvalidArgument.
func WithPorts(ports ...int) LeaseOption {
	checked, err := cPorts(ports)
	return func(o *leaseOptions) {
		o.ports, o.set = checked, o.set|setPorts
		if err != nil {
			o.err = err
		}
	}
}

// WithMode says how Lease, Listen and ListenPacket take the ports of WithPorts and WithRange:
// ModeFlexible (the default) or ModeFixed.
func WithMode(mode Mode) LeaseOption {
	return func(o *leaseOptions) { o.mode, o.set = mode, o.set|setMode }
}

// WithRange adds the ports lo to hi (inclusive), in order, after the preferred ports, as
// get-port's portNumbers does: for Register, RegisterAny, Lease, Listen and ListenPacket (in
// either mode), and FindFree and FindFreeN. Without it, ModeFlexible goes on upward from the
// first preferred port and ModeFixed takes only the preferred ports; FindFree lets the kernel
// pick. Port 0, or lo above hi, is ErrInvalidArgument. A pool has its own range, so
// Allocate takes no WithRange, and Lease or Listen with WithPool refuse it.
func WithRange(lo, hi int) LeaseOption {
	checked, err := cPorts([]int{lo, hi})
	return func(o *leaseOptions) {
		o.set |= setRange
		if err != nil {
			o.err = err
			return
		}
		o.c.range_start, o.c.range_end = C.uint16_t(checked[0]), C.uint16_t(checked[1])
	}
}

// WithExclude names ports that are never handed out, even when preferred, in the range or
// next in a pool: for Register, RegisterAny, Allocate, AllocateMany, Lease, Listen,
// ListenPacket, FindFree and FindFreeN (get-port's exclude). Given more than once, the ports
// add up. Port 0 is ErrInvalidArgument.
func WithExclude(ports ...int) LeaseOption {
	checked, err := cPorts(ports)
	return func(o *leaseOptions) {
		o.exclude, o.set = append(o.exclude, checked...), o.set|setExclude
		if err != nil {
			o.err = err
		}
	}
}

// WithHost checks candidate ports on the one address ip (e.g. 127.0.0.1) instead of the IPv4
// and IPv6 wildcards, as get-port's host does; Listen and ListenPacket also bind ip. It is
// taken by Register, RegisterAny, Allocate, AllocateMany, Lease, Listen, ListenPacket,
// FindFree and FindFreeN.
//
// What that means for the guarantee: a port another process has bound on another address
// (127.0.0.1 when ip is 192.0.2.7, say) reads as free, so the lease is only good for a server
// that binds ip alone. An ip that is not an address of this host is ErrInvalidArgument, and so
// is the zero netip.Addr. A netip.Addr is taken rather than a net.IP because it is a value:
// the option keeps no slice the caller may change, IPv4 and IPv4-mapped IPv6 stay apart, and
// the zero value is told from an address (use netip.AddrFromSlice to convert a net.IP).
func WithHost(ip netip.Addr) LeaseOption {
	return func(o *leaseOptions) {
		o.set |= setHost
		if !ip.IsValid() {
			o.err = invalid("invalid host: the zero netip.Addr is no address")
			return
		}
		o.host = ip.String()
	}
}

// WithBacklog sets the length of the queue of connections Listen's socket has not accepted
// yet (default, and 0: the kernel's net.core.somaxconn, which also caps it). Over
// 2147483647, or negative, is ErrInvalidArgument. Only Listen takes it.
func WithBacklog(n int) LeaseOption {
	return func(o *leaseOptions) {
		o.set |= setBacklog
		o.backlog = C.int64_t(n) // libportpool checks it
	}
}

// lease returns the options for libportpool, the ports and host they point to copied into mem.
// The struct is a copy of its own: cgo checks the whole Go object a pointer points into, and
// leaseOptions holds Go pointers.
func (o *leaseOptions) lease(mem *cMemory) (*C.portpool_lease_options, error) {
	c := new(C.portpool_lease_options)
	*c = o.c
	c.struct_size = C.size_t(unsafe.Sizeof(*c))
	c.exclude, c.n_exclude = mem.ports(o.exclude), C.size_t(len(o.exclude))
	if o.set&setHost != 0 {
		host, err := mem.string("host", o.host)
		if err != nil {
			return nil, err
		}
		c.host = host
	}
	return c, nil
}

// leaseOptionsOf collects the options of a call that makes a lease, refusing any outside
// allowed, for libportpool, in mem (call names the call in errors).
func leaseOptionsOf(call string, opts []LeaseOption, allowed optionSet, mem *cMemory) (*C.portpool_lease_options, error) {
	o, err := collectOptions(opts, allowed, call)
	if err != nil {
		return nil, err
	}
	return o.lease(mem)
}

// choice is how Lease chooses its port, for libportpool, in mem.
func (o *leaseOptions) choice(mem *cMemory) (*C.portpool_choice, error) {
	var choice C.portpool_choice
	var err error
	choice.struct_size = C.size_t(unsafe.Sizeof(choice))
	if o.set&setPool != 0 {
		if choice.pool, err = mem.string("pool", o.pool); err != nil {
			return nil, err
		}
	}
	choice.ports, choice.n_ports = mem.ports(o.ports), C.size_t(len(o.ports))
	choice.mode = C.portpool_mode(o.mode)
	return &choice, nil
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

// allowedNames lists the options in allowed: "WithOwner", "WithOwner and WithTTL", ...
func allowedNames(allowed optionSet) string {
	var names []string
	for bit, name := range optionNames {
		if allowed&(1<<bit) != 0 {
			names = append(names, name)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
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
