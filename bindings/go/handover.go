package portpool

// Handover and owners: who owns a lease and how it passes from one process to the next
// (BeginHandover, CommitHandover, AbortHandover, SetOwner, AllocateMany for a supervisor's
// workers).

/*
#include <stdlib.h>
#include "portpool.h"
*/
import "C"

import "unsafe"

// BeginHandover begins a zero-downtime handover of name: it leases a port for the next
// generation while the current one stays valid, and returns it. Get keeps returning the
// current port until CommitHandover; both ports are leased meanwhile, and the lease's Next
// shows the new one. A pool lease's new port comes from its pool; a flexible lease takes the
// first free port above the current one. WithOwner(pid) names the next generation's process:
// it owns the lease after the commit, its death frees the new port, and the old owner's death
// commits the handover. Begun again for the same process (or again without one), it returns
// the same port. Only WithOwner is accepted.
//
// Errors: ErrNotFound for an unknown or stale name; ErrConflict when a handover for another
// process is under way, and for a fixed lease (a handover would move its port); ErrExhausted
// when no port is free.
func (r *Registry) BeginHandover(name string, opts ...LeaseOption) (uint16, error) {
	return r.handoverStep("BeginHandover", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_begin_handover(h, cname, pid, out)
	})
}

// CommitHandover completes name's handover: it releases the old port, makes the next one
// current and returns it. The lease's owner becomes the next generation's process: the one
// given to BeginHandover, else the one given here with WithOwner, else none (the old
// generation's process never owns the new port). WithOwner also names the next generation as
// this caller knows it: a handover begun for another process is ErrConflict, so one
// supervisor cannot commit another's; without it nothing is checked. Only WithOwner is
// accepted. An unknown or stale name, or no handover under way, is ErrNotFound.
func (r *Registry) CommitHandover(name string, opts ...LeaseOption) (uint16, error) {
	return r.handoverStep("CommitHandover", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_commit_handover(h, cname, pid, out)
	})
}

// AbortHandover abandons name's handover: it releases the next generation's port and returns
// it; the current lease is untouched. WithOwner is checked as by CommitHandover. Errors as
// CommitHandover.
func (r *Registry) AbortHandover(name string, opts ...LeaseOption) (uint16, error) {
	return r.handoverStep("AbortHandover", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_abort_handover(h, cname, pid, out)
	})
}

// AllocateMany allocates a port of pool ("" means "default") to each of names in one locked
// write, all or none, and returns the ports in the order of names. Names that already hold a
// lease get theirs back. It takes the options Allocate takes. Errors as Allocate; a name
// given twice is ErrInvalidArgument.
func (r *Registry) AllocateMany(names []string, pool string, opts ...LeaseOption) ([]uint16, error) {
	var mem cMemory
	defer mem.free()
	options, err := leaseOptionsOf("AllocateMany", opts, newLease|setExclude|setHost|setBindable, &mem)
	if err != nil {
		return nil, err
	}
	cnames := make([]*C.char, len(names))
	for i, name := range names {
		if cnames[i], err = cString("name", name); err != nil {
			break
		}
	}
	defer func() {
		for _, c := range cnames {
			C.free(unsafe.Pointer(c)) // free(NULL) does nothing
		}
	}()
	if err != nil {
		return nil, err
	}
	var cpool *C.char
	if pool != "" {
		if cpool, err = cString("pool", pool); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cpool))
	}
	ports := make([]C.uint16_t, len(names))
	var namesPtr **C.char
	var portsPtr *C.uint16_t
	if len(names) > 0 {
		namesPtr, portsPtr = &cnames[0], &ports[0]
	}
	err = r.call(func(h *C.portpool_registry) C.enum_portpool_status {
		return C.portpool_allocate_many(h, namesPtr, C.size_t(len(names)), cpool, options, portsPtr)
	})
	if err != nil {
		return nil, err
	}
	out := make([]uint16, len(ports))
	for i, p := range ports {
		out[i] = uint16(p)
	}
	return out, nil
}

// SetOwner makes process pid the owner of name's lease (0: no owner, a permanent lease) and
// returns the lease. Once the owner exits, the lease is stale and is reclaimed. A negative
// pid, or one that names no running process, is ErrInvalidArgument.
func (r *Registry) SetOwner(name string, pid int) (Lease, error) {
	return r.leaseOf(name, func(h *C.portpool_registry, cname *C.char, out **C.char) C.enum_portpool_status {
		return C.portpool_set_owner(h, cname, C.int64_t(pid), out)
	})
}

// handoverStep runs one step of a handover (call names it in errors): only WithOwner is
// accepted, and its pid goes to libportpool.
func (r *Registry) handoverStep(call, name string, opts []LeaseOption, step func(*C.portpool_registry, *C.char, C.int64_t, *C.uint16_t) C.enum_portpool_status) (uint16, error) {
	o, err := collectOptions(opts, setOwner, call)
	if err != nil {
		return 0, err
	}
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return step(h, cname, o.c.pid, out)
	})
}
