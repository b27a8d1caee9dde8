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
	// What the lease options' C fields point to (lease_options_gen.go).
	leaseValues
	// Listen only: the queue of connections not yet accepted (0: the kernel's somaxconn).
	backlog C.int64_t
}

type optionSet uint32

// The bits of the options that are not core's lease options, after those
// (lease_options_gen.go).
const (
	setPool optionSet = 1 << (nLeaseOptions + iota)
	setPorts
	setMode
	setBacklog
)

// The options' names, in the order of their bits.
var optionNames = slices.Concat(leaseOptionNames, []string{"WithPool", "WithPort", "WithMode", "WithBacklog"})

// errorOrder is the order errors list a call's options in ("Register takes only WithProtocol,
// ..."); an option not in it (a lease option added since) comes after these.
var errorOrder = []string{"WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithPool", "WithPort",
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

// cRange is the range lo to hi for libportpool: each a port (1-65535), else ErrInvalidArgument;
// libportpool checks the rest.
func cRange(lo, hi int) (C.uint16_t, C.uint16_t, error) {
	checked, err := cPorts([]int{lo, hi})
	if err != nil {
		return 0, 0, err
	}
	return C.uint16_t(checked[0]), C.uint16_t(checked[1]), nil
}

// cHost is ip's text for libportpool, which checks that it is an address of this host; the zero
// netip.Addr is ErrInvalidArgument.
func cHost(ip netip.Addr) (string, error) {
	if !ip.IsValid() {
		return "", invalid("invalid host: the zero netip.Addr is no address")
	}
	return ip.String(), nil
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

// WithBacklog sets the length of the queue of connections Listen's socket has not accepted
// yet (default, and 0: the kernel's net.core.somaxconn, which also caps it). Over
// 2147483647, or negative, is ErrInvalidArgument. Only Listen takes it.
func WithBacklog(n int) LeaseOption {
	return func(o *leaseOptions) {
		o.set |= setBacklog
		o.backlog = C.int64_t(n) // libportpool checks it
	}
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
	rank := func(name string) int {
		if at := slices.Index(errorOrder, name); at >= 0 {
			return at
		}
		return len(errorOrder)
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
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
