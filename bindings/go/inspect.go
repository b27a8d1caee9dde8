package portpool

// Host inspection: what the host's sockets say about ports, next to the registry (Who,
// Doctor, IsFree, FindFree), and Migrate, which turns the servers it sees into leases.

/*
#include "portpool.h"
*/
import "C"

// Who returns the leases holding port (TCP and UDP) and the server sockets bound to it with
// their processes. It walks every process's descriptors.
func (r *Registry) Who(port uint16) (Who, error) {
	return jsonOf[Who](r, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_who_json(h, C.uint16_t(port), out)
	})
}

// Migrate registers every port a server socket is bound to now as a fixed, permanent lease
// named after its program, and returns the leases made. Ports already leased are left alone.
// With dryRun it returns the plan and writes nothing. /proc that cannot be read is ErrIO.
func (r *Registry) Migrate(dryRun bool) ([]Lease, error) {
	return jsonOf[[]Lease](r, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_migrate_json(h, C.bool(dryRun), out)
	})
}

// Doctor checks the registry against the host: leases nothing listens on, listeners on leased
// ports that are not the owner's, ports Migrate recorded that another program took over, stale
// owners (of a lease or of a handover's next generation), expired leases, and pools
// overlapping the kernel's ephemeral port range. It only reads.
func (r *Registry) Doctor() (DoctorReport, error) {
	return jsonOf[DoctorReport](r, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_doctor_json(h, out)
	})
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
