package portpool

// Host inspection: what the host's sockets say about ports, next to the registry (Who,
// Doctor, IsFree, FindFree, FindFreeN), and Migrate, which turns the servers it sees into leases.

/*
#include "portpool.h"
*/
import "C"

import (
	"unsafe"
)

// Who returns the leases holding port (TCP and UDP) and the server sockets bound to it with
// their processes. It walks every process's descriptors.
func (r *Registry) Who(port int) (Who, error) {
	cport, err := cPort(port)
	if err != nil {
		return Who{}, err
	}
	return jsonOf[Who](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_who_json(h, cport, out, e)
	})
}

// Migrate registers every port a server socket is bound to now as a fixed, permanent lease
// named after its program, and returns the leases made. Ports already leased are left alone.
// With dryRun it returns the plan and writes nothing. /proc that cannot be read is ErrIO.
func (r *Registry) Migrate(dryRun bool) ([]Lease, error) {
	return jsonOf[[]Lease](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_migrate_json(h, C.bool(dryRun), out, e)
	})
}

// Doctor checks the registry against the host: leases nothing listens on, listeners on leased
// ports that are not the owner's, ports Migrate recorded that another program took over, stale
// owners (of a lease or of a handover's next generation), expired leases, and pools
// overlapping the kernel's ephemeral port range. It only reads.
func (r *Registry) Doctor() (DoctorReport, error) {
	return jsonOf[DoctorReport](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_doctor_json(h, out, e)
	})
}

// Repair brings a damaged registry back, as `portpool repair` does: it keeps every line that
// reads back, moves the damaged file (and FIFOs, directories or other users' files planted at
// the registry's, the lock's or the spare's name) aside as NAME.damaged-SECONDS, never
// deleting them, rewrites the registry from what was kept, and reports what it could not
// keep. A registry that reads back is left as it is; a newer version's file is refused.
func (r *Registry) Repair() (RepairReport, error) {
	return jsonOf[RepairReport](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_repair_json(h, out, e)
	})
}

// IsFree tells whether port can be bound for protocol on this host right now, on both the
// IPv4 and IPv6 wildcard addresses, or with WithHost on that one address (a port some process
// has bound on another address is then free). It takes WithHost only. It ignores the registry;
// the answer is a snapshot.
func IsFree(port int, protocol Protocol, opts ...LeaseOption) (bool, error) {
	o, err := collectOptions(opts, allowed("IsFree"), "IsFree")
	if err != nil {
		return false, err
	}
	cport, err := cPort(port)
	if err != nil {
		return false, err
	}
	var mem cMemory
	defer mem.free()
	host, err := mem.optionalString("host", o.host)
	if err != nil {
		return false, err
	}
	var out C.bool
	err = withError(func(e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_is_free_at(cport, C.portpool_protocol(protocol), host, &out, e)
	})
	return bool(out), err
}

// FindFree returns a port that can be bound right now, outside any registry: for tests and
// tools that bind it at once. It takes no lease, so any process may take the port before it
// is bound; Registry.Listen leases and binds in one step.
//
// It returns the first free port of WithPorts, in order, then of WithRange; without a range,
// one the kernel picks. WithExclude's ports are never returned; WithHost checks one address
// instead of the wildcards. It takes WithProtocol (TCP by default), WithPorts, WithRange,
// WithExclude and WithHost. No free port where asked is ErrExhausted.
//
// Before this package had options, FindFree took the protocol: FindFree(portpool.UDP) is now
// FindFree(portpool.WithProtocol(portpool.UDP)).
func FindFree(opts ...LeaseOption) (int, error) {
	ports, err := findFree("FindFree", 1, opts)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FindFreeN returns n distinct ports that can be bound right now, in one call, as FindFree
// chooses them: the free ones of WithPorts in order, then of WithRange, or the kernel's picks.
// Fewer than n free ports is ErrExhausted; n below 1 is ErrInvalidArgument. It takes the
// options FindFree takes.
func FindFreeN(n int, opts ...LeaseOption) ([]int, error) {
	return findFree("FindFreeN", n, opts)
}

// findFree asks libportpool for n ports (call names the caller in errors).
func findFree(call string, n int, opts []LeaseOption) ([]int, error) {
	o, err := collectOptions(opts, allowed(call), call)
	if err != nil {
		return nil, err
	}
	// The output array is made here, so libportpool checks the count first.
	count, err := cCount(n)
	if err != nil {
		return nil, err
	}
	var mem cMemory
	defer mem.free()
	var find C.portpool_find_options
	find.struct_size = C.size_t(unsafe.Sizeof(find))
	find.protocol = o.c.protocol
	find.ports, find.n_ports = mem.ports(o.ports), C.size_t(len(o.ports))
	find.range_start, find.range_end = o.c.range_start, o.c.range_end
	find.exclude, find.n_exclude = mem.ports(o.exclude), C.size_t(len(o.exclude))
	if o.set&setHost != 0 {
		if find.host, err = mem.string("host", o.host); err != nil {
			return nil, err
		}
	}
	out := make([]C.uint16_t, count)
	err = withError(func(e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_find_free_ex(&find, &out[0], count, e)
	})
	if err != nil {
		return nil, err
	}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = int(out[i])
	}
	return ports, nil
}

// TakeWarnings returns the warnings libportpool has given this process since the last call,
// oldest first (nil when there are none). Each warning is given once per process, whatever
// call ran into it: today, a writer that appended to a registry it could not compact (the file
// grows until someone who can compact it writes; Doctor reports it as "uncompacted"). The
// command line prints these on stderr, Python and Node raise them as warnings; a Go program
// calls TakeWarnings after calls that write and logs what it gets.
func TakeWarnings() []string {
	var out *C.char
	err := withError(func(e **C.portpool_error) C.enum_portpool_status {
		return C.portpool_take_warnings_json(&out, e)
	})
	var warnings []string
	if err == nil {
		err = decode(takeString(out), &warnings)
	}
	if err != nil {
		// Only a libportpool that breaks its own contract gets here: say so, as a warning.
		return []string{"portpool: cannot read libportpool's warnings: " + err.Error()}
	}
	if len(warnings) == 0 {
		return nil
	}
	return warnings
}
