package portpool

// The options of the calls that make leases and pools: each is a function applied in order,
// so a call takes any number of them and a new option never changes a signature.

/*
#include "portpool.h"
*/
import "C"

import "time"

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
