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
// commits the handover. Only WithOwner is accepted.
//
// Errors: ErrNotFound for an unknown or stale name; ErrConflict when a handover is already
// under way, whoever asks (BeginHandoverTicket retries it with its ticket or supersedes it),
// and for a fixed lease (a handover would move its port); ErrExhausted
// when no port is free.
func (r *Registry) BeginHandover(name string, opts ...LeaseOption) (int, error) {
	return r.handoverStep("BeginHandover", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_begin_handover(h, cname, pid, out, e)
	})
}

// CommitHandover completes name's handover: it releases the old port, makes the next one
// current and returns it. The lease's owner becomes the next generation's process: the one
// given to BeginHandover, else the one given here with WithOwner, else none (the old
// generation's process never owns the new port). WithOwner also names the next generation as
// this caller knows it: a handover begun for another process is ErrConflict, so one
// supervisor cannot commit another's; without it nothing is checked. Only WithOwner is
// accepted. An unknown or stale name, or no handover under way, is ErrNotFound.
func (r *Registry) CommitHandover(name string, opts ...LeaseOption) (int, error) {
	return r.handoverStep("CommitHandover", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_commit_handover(h, cname, pid, out, e)
	})
}

// AbortHandover abandons name's handover: it releases the next generation's port and returns
// it; the current lease is untouched. WithOwner is checked as by CommitHandover. Errors as
// CommitHandover.
func (r *Registry) AbortHandover(name string, opts ...LeaseOption) (int, error) {
	return r.handoverStep("AbortHandover", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_abort_handover(h, cname, pid, out, e)
	})
}

// AllocateMany allocates a port of pool ("" means "default") to each of names in one locked
// write, all or none, and returns the ports in the order of names. Names that already hold a
// lease get theirs back. It takes the options Allocate takes. Errors as Allocate; a name
// given twice is ErrInvalidArgument.
func (r *Registry) AllocateMany(names []string, pool string, opts ...LeaseOption) ([]int, error) {
	var mem cMemory
	defer mem.free()
	options, err := leaseOptionsOf("AllocateMany", opts, allowed("AllocateMany"), &mem)
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
	err = r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_allocate_many(h, namesPtr, C.size_t(len(names)), cpool, options, portsPtr, e)
	})
	if err != nil {
		return nil, err
	}
	out := make([]int, len(ports))
	for i, p := range ports {
		out[i] = int(p)
	}
	return out, nil
}

// SetOwner makes process pid the owner of name's lease (0: no owner, a permanent lease) and
// returns the lease. Once the owner exits, the lease is stale and is reclaimed. A negative
// pid, or one that names no running process, is ErrInvalidArgument.
func (r *Registry) SetOwner(name string, pid int) (Lease, error) {
	return r.leaseOf(name, func(h *C.portpool_registry, cname *C.char, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_set_owner(h, cname, C.int64_t(pid), out, e)
	})
}

// handoverStep runs one step of a handover (call names it in errors): only WithOwner is
// accepted, and its pid goes to libportpool.
func (r *Registry) handoverStep(call, name string, opts []LeaseOption, step func(*C.portpool_registry, *C.char, C.int64_t, *C.uint16_t, **C.portpool_error) C.enum_portpool_status) (int, error) {
	o, err := collectOptions(opts, setOwner, call)
	if err != nil {
		return 0, err
	}
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return step(h, cname, o.c.pid, out, e)
	})
}

// BeginHandoverTicket begins name's handover as BeginHandover does and returns it with its
// ticket. A handover already under way is ErrConflict naming its ticket and port, whoever
// asks, unless ticket (0: none) is that ticket (a retry: the same handover comes back, with
// Created false) or supersede (it is aborted and a new one begun with a new ticket, in one
// change). A ticket that is not the one under way is ErrConflict and changes nothing. Only
// WithOwner is accepted.
func (r *Registry) BeginHandoverTicket(name string, ticket uint64, supersede bool, opts ...LeaseOption) (Handover, error) {
	o, err := collectOptions(opts, setOwner, "BeginHandoverTicket")
	if err != nil {
		return Handover{}, err
	}
	var next C.uint64_t
	port, err := r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_begin_handover_ticket(h, cname, o.c.pid, C.uint64_t(ticket), C.bool(supersede), out, &next, e)
	})
	if err != nil {
		return Handover{}, err
	}
	created := !(ticket != 0 && uint64(next) == ticket)
	return Handover{Name: name, Port: port, Ticket: uint64(next), Created: created}, nil
}

// CommitHandoverTicket commits name's handover as CommitHandover does, only when ticket (0:
// any) is the handover under way: a ticket of a handover that has ended (committed, aborted,
// superseded) or another one is ErrConflict and changes nothing.
func (r *Registry) CommitHandoverTicket(name string, ticket uint64, opts ...LeaseOption) (int, error) {
	return r.handoverStep("CommitHandoverTicket", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_commit_handover_ticket(h, cname, pid, C.uint64_t(ticket), out, e)
	})
}

// AbortHandoverTicket aborts name's handover as AbortHandover does, checked against ticket (0:
// any) as CommitHandoverTicket checks it.
func (r *Registry) AbortHandoverTicket(name string, ticket uint64, opts ...LeaseOption) (int, error) {
	return r.handoverStep("AbortHandoverTicket", name, opts, func(h *C.portpool_registry, cname *C.char, pid C.int64_t, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_abort_handover_ticket(h, cname, pid, C.uint64_t(ticket), out, e)
	})
}

// BeginHandovers begins a handover of each of names in one change: all begin, or none does
// and the first refusal is the error. A rolling restart of N instances is then one decision,
// and a crash leaves all of them pending or none. supersede and WithOwner (the only option
// taken) apply to every name, as BeginHandoverTicket takes them. A name given twice is
// ErrInvalidArgument.
func (r *Registry) BeginHandovers(names []string, supersede bool, opts ...LeaseOption) ([]Handover, error) {
	o, err := collectOptions(opts, setOwner, "BeginHandovers")
	if err != nil {
		return nil, err
	}
	ports := make([]C.uint16_t, max(len(names), 1))
	tickets := make([]C.uint64_t, max(len(names), 1))
	err = r.withNames(names, func(h *C.portpool_registry, cnames **C.char, n C.size_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_begin_handovers(h, cnames, n, o.c.pid, C.bool(supersede), &ports[0], &tickets[0], e)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Handover, len(names))
	for i, name := range names {
		out[i] = Handover{Name: name, Port: int(ports[i]), Ticket: uint64(tickets[i]), Created: true}
	}
	return out, nil
}

// CommitHandovers commits the handover of each of endings in one change, each checked
// against its Ticket (0: any) and WithOwner (the only option taken) as CommitHandoverTicket
// checks them: all are committed, or none is. It returns the new ports in order.
func (r *Registry) CommitHandovers(endings []Ending, opts ...LeaseOption) ([]int, error) {
	return r.endHandovers("CommitHandovers", endings, opts, true)
}

// AbortHandovers aborts the handover of each of endings in one change, all or none, checked
// as CommitHandovers checks them. It returns the released next ports in order.
func (r *Registry) AbortHandovers(endings []Ending, opts ...LeaseOption) ([]int, error) {
	return r.endHandovers("AbortHandovers", endings, opts, false)
}

func (r *Registry) endHandovers(call string, endings []Ending, opts []LeaseOption, commit bool) ([]int, error) {
	o, err := collectOptions(opts, setOwner, call)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(endings))
	tickets := make([]C.uint64_t, max(len(endings), 1))
	for i, e := range endings {
		names[i], tickets[i] = e.Name, C.uint64_t(e.Ticket)
	}
	ports := make([]C.uint16_t, max(len(endings), 1))
	err = r.withNames(names, func(h *C.portpool_registry, cnames **C.char, n C.size_t, e **C.portpool_error) C.enum_portpool_status {
		if commit {
			return C.portpool_commit_handovers(h, cnames, &tickets[0], n, o.c.pid, &ports[0], e)
		}
		return C.portpool_abort_handovers(h, cnames, &tickets[0], n, o.c.pid, &ports[0], e)
	})
	if err != nil {
		return nil, err
	}
	out := make([]int, len(endings))
	for i := range out {
		out[i] = int(ports[i])
	}
	return out, nil
}

// withNames runs call with names copied into C memory (an array of C strings, NULL when
// there are none), freed afterwards.
func (r *Registry) withNames(names []string, call func(*C.portpool_registry, **C.char, C.size_t, **C.portpool_error) C.enum_portpool_status) error {
	var mem cMemory
	defer mem.free()
	if len(names) == 0 {
		return r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status { return call(h, nil, 0, e) })
	}
	size := C.size_t(len(names)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))
	array := (**C.char)(C.malloc(size))
	mem = append(mem, unsafe.Pointer(array))
	slots := unsafe.Slice(array, len(names))
	for i, name := range names {
		cname, err := mem.string("name", name)
		if err != nil {
			return err
		}
		slots[i] = cname
	}
	return r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return call(h, array, C.size_t(len(names)), e)
	})
}
