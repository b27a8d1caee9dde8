package portpool

// The options of the calls that make leases and pools: each is a function applied in order,
// so a call takes any number of them and a new option never changes a signature.

/*
#include "portpool.h"
*/
import "C"

import (
	"strings"
	"time"
)

// LeaseOption sets an option of a new lease: for Register, Allocate, AllocateMany and Lease
// (each call says which it takes, and refuses the others with ErrInvalidArgument).
type LeaseOption func(*leaseOptions)

type leaseOptions struct {
	c   C.portpool_lease_options
	err error
	// set records which options were given, for calls that accept only some.
	set optionSet
	// How Lease chooses its port: a pool, or ports in a mode.
	pool  string
	ports []uint16
	mode  Mode
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
)

// The options' names, in the order of the bits above, for errors.
var optionNames = []string{"WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithPool", "WithPort", "WithMode"}

// The options of every call that makes a lease, and those that say how Lease chooses its port.
const (
	newLease = setProtocol | setForce | setOwner | setTTL
	choosing = setPool | setPorts | setMode
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

// WithPool takes Lease's port from pool (by default, the "default" pool). It cannot be
// combined with WithPort.
func WithPool(pool string) LeaseOption {
	return func(o *leaseOptions) { o.pool, o.set = pool, o.set|setPool }
}

// WithPort makes Lease take port as WithMode says (flexible by default: port, or the next free
// one above it) instead of a pool's next free port. It is WithPorts with one port.
func WithPort(port uint16) LeaseOption { return WithPorts(port) }

// WithPorts makes Lease take the first of ports, in order, that WithMode allows, instead of a
// pool's next free port.
func WithPorts(ports ...uint16) LeaseOption {
	ports = append([]uint16(nil), ports...)
	return func(o *leaseOptions) { o.ports, o.set = ports, o.set|setPorts }
}

// WithMode says how Lease takes the ports of WithPort: ModeFlexible (the default) or
// ModeFixed.
func WithMode(mode Mode) LeaseOption {
	return func(o *leaseOptions) { o.mode, o.set = mode, o.set|setMode }
}

// buildOptions collects the options of a call that makes a lease (call names it in errors).
func buildOptions(call string, opts []LeaseOption) (*C.portpool_lease_options, error) {
	o, err := collectOptions(opts, newLease, call)
	if err != nil {
		return nil, err
	}
	return &o.c, nil
}

// choice is how Lease chooses its port, for libportpool, in mem.
func (o *leaseOptions) choice(mem *cMemory) (*C.portpool_choice, error) {
	var choice C.portpool_choice
	var err error
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
