package portpool

// Allocation: taking, reading and giving back leases and pools (Register, Allocate, Get,
// Release, List, Pools, SetPool, Check, GC, Renew, Reset).

/*
#include "portpool.h"
*/
import "C"

// Register leases a port to name and returns it.
//
// ModeFlexible gives port when it is neither leased nor bound, else the next such port above
// it (ErrExhausted when none is left). ModeFixed gives exactly port, or ErrConflict naming the
// holder. With WithRange, the range's ports follow port in order, in either mode, instead of
// the ports above it. WithExclude's ports are never given; WithHost checks ports on one
// address. A name that already holds a lease gets its port back; asking it for another fixed
// port or the other protocol is ErrConflict. The lease is permanent TCP unless opts say
// otherwise (WithProtocol, WithOwner, WithTTL, WithForce). Register takes those and
// WithRange, WithExclude and WithHost. For a list of preferred ports, use RegisterAny.
func (r *Registry) Register(name string, port int, mode Mode, opts ...LeaseOption) (int, error) {
	var mem cMemory
	defer mem.free()
	options, err := leaseOptionsOf("Register", opts, allowed("Register"), &mem)
	if err != nil {
		return 0, err
	}
	cport, err := cPort(port)
	if err != nil {
		return 0, err
	}
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_register_ex(h, cname, cport, C.portpool_mode(mode), options, out, e)
	})
}

// RegisterAny is Register with a list of preferred ports, as get-port's port: [3000, 3001]:
// name gets the first of ports, in order, that mode allows, then (with WithRange) the first
// the range allows:
//
//	port, err := reg.RegisterAny("web", []int{3000, 3001}, portpool.ModeFixed,
//		portpool.WithRange(4000, 4100), portpool.WithExclude(4001))
//
// Without WithRange, ModeFlexible goes on upward from the first preferred port and ModeFixed
// takes only the listed ports (none free: ErrConflict). With WithRange, ports may be empty.
// WithExclude's ports are never given. It takes the options Register takes; the rest is as
// Register says.
func (r *Registry) RegisterAny(name string, ports []int, mode Mode, opts ...LeaseOption) (int, error) {
	var mem cMemory
	defer mem.free()
	options, err := leaseOptionsOf("RegisterAny", opts, allowed("RegisterAny"), &mem)
	if err != nil {
		return 0, err
	}
	checked, err := cPorts(ports)
	if err != nil {
		return 0, err
	}
	cports := mem.ports(checked)
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_register_ports(h, cname, cports, C.size_t(len(ports)), C.portpool_mode(mode), options, out, e)
	})
}

// Allocate leases the next free port of pool to name and returns it. An empty pool means
// "default" (9000-18999 unless changed). The pool's round-robin cursor is shared by every
// process on the host. WithExclude's ports are passed over; WithHost checks ports on one
// address (for a pool that probes). A name that already holds a lease gets its port back. An
// unknown pool is ErrNotFound; a pool with no free port is ErrExhausted. Allocate takes
// WithProtocol, WithOwner, WithTTL, WithExclude and WithHost, and WithForce (which only lets
// it return a name whose lease another user made).
func (r *Registry) Allocate(name, pool string, opts ...LeaseOption) (int, error) {
	var mem cMemory
	defer mem.free()
	options, err := leaseOptionsOf("Allocate", opts, allowed("Allocate"), &mem)
	if err != nil {
		return 0, err
	}
	return withOptionalCString("pool", pool, func(cpool *C.char) (int, error) {
		return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
			return C.portpool_allocate_ex(h, cname, cpool, options, out, e)
		})
	})
}

// Get returns the port name holds; ErrNotFound when it holds none, or only a stale lease (its
// time to live over, or its owner gone).
func (r *Registry) Get(name string) (int, error) {
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_get(h, cname, out, e)
	})
}

// GetLease returns the whole lease name holds, as it stands now (a handover its owners'
// deaths settled, applied); ErrNotFound when it holds none, or only a stale one.
func (r *Registry) GetLease(name string) (Lease, error) {
	return r.leaseOf(name, func(h *C.portpool_registry, cname *C.char, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_get_json(h, cname, out, e)
	})
}

// Release releases name's lease and reports whether there was one; an unknown name is not an
// error.
func (r *Registry) Release(name string) (bool, error) {
	return withCString("name", name, func(cname *C.char) (bool, error) {
		var out C.bool
		err := r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
			return C.portpool_release(h, cname, &out, e)
		})
		return bool(out), err
	})
}

// List returns every lease as recorded, sorted by name; a stale one says why in Lease.Stale.
func (r *Registry) List() ([]Lease, error) {
	return jsonOf[[]Lease](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_list_json(h, out, e)
	})
}

// Pools returns every pool, sorted by name; the "default" pool is always there.
func (r *Registry) Pools() ([]Pool, error) {
	return jsonOf[[]Pool](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_pools_json(h, out, e)
	})
}

// SetPool creates pool name over start..end (inclusive) or changes its range, and returns
// the pool as set with any warnings. A cursor outside the new range restarts at start; leases
// already made are kept. A pool that works but deserves a second look (its range overlaps the
// kernel's ephemeral ports, say) is still set, and PoolChange.Warnings says what to look at:
// show them to the user.
func (r *Registry) SetPool(name string, start, end int, opts ...PoolOption) (PoolChange, error) {
	o := poolOptions{probe: C.PORTPOOL_PROBE_DEFAULT}
	cstart, err := cPort(start)
	if err != nil {
		return PoolChange{}, err
	}
	cend, err := cPort(end)
	if err != nil {
		return PoolChange{}, err
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return withCString("pool", name, func(cname *C.char) (PoolChange, error) {
		var pool, warnings *C.char
		err := r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
			return C.portpool_set_pool(h, cname, cstart, cend, o.probe, &pool, &warnings, e)
		})
		var change PoolChange
		poolText, warningsText := takeString(pool), takeString(warnings)
		if err == nil {
			err = decode(poolText, &change.Pool)
		}
		if err == nil {
			err = decode(warningsText, &change.Warnings)
		}
		return change, err
	})
}

// Check tells whether port is free, leased (the holder's lease is returned) or bound by a
// process outside the registry. Stale leases count as free. The answer is a snapshot.
func (r *Registry) Check(port int, protocol Protocol) (PortState, *Lease, error) {
	var state C.enum_portpool_port_state
	var out *C.char
	cport, err := cPort(port)
	if err != nil {
		return PortUnknown, nil, err
	}
	err = r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_check(h, cport, C.portpool_protocol(protocol), &state, &out, e)
	})
	text := takeString(out)
	if err != nil {
		return PortUnknown, nil, err
	}
	if text == "" {
		return PortState(state) + portStateOffset, nil, nil
	}
	holder := new(Lease)
	if err := decode(text, holder); err != nil {
		return PortUnknown, nil, err
	}
	return PortState(state) + portStateOffset, holder, nil
}

// GC settles every stale lease and returns each as it was, with why: leases whose time to live
// is over or whose owners are gone are released; a handover whose current owner is gone while
// its next generation lives is committed; one whose next generation's owner is gone releases
// only the next port.
func (r *Registry) GC() ([]Reclaimed, error) {
	return jsonOf[[]Reclaimed](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_gc(h, nil, out, e)
	})
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
	return r.leaseOf(name, func(h *C.portpool_registry, cname *C.char, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_renew(h, cname, o.c.ttl, out, e)
	})
}

// Reset empties the registry: no leases, and only the default pool at 9000-18999.
func (r *Registry) Reset() error {
	return r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_reset(h, e)
	})
}

// ReleaseAll releases name's lease and, when a handover is under way, the next generation's
// port too; Release refuses such a lease with ErrConflict. It reports whether there was a
// lease.
func (r *Registry) ReleaseAll(name string) (bool, error) {
	return withCString("name", name, func(cname *C.char) (bool, error) {
		var out C.bool
		err := r.call(func(h *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
			return C.portpool_release_all(h, cname, &out, e)
		})
		return bool(out), err
	})
}

// ListAllNamespaces returns the leases of every namespace, as List shows them, sorted by
// namespace (the default one first), then name.
func (r *Registry) ListAllNamespaces() ([]Lease, error) {
	return jsonOf[[]Lease](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_list_all_json(h, out, e)
	})
}
