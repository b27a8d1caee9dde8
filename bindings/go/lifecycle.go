package portpool

/*
#include <stdlib.h>
#include "portpool.h"
*/
import "C"

import (
	"math"
	"unsafe"
)

// BeginHandover begins a zero-downtime handover of name: it leases a port for the next
// generation while the current one stays valid, and returns it. Get keeps returning the
// current port until CommitHandover; both ports are leased meanwhile, and the lease's Next
// shows the new one. A pool lease's new port comes from its pool; other leases take the first
// free port above the current one. pid (0: none) is the next generation's process, which owns
// the lease after the commit. Begun twice, it returns the same port. An unknown name is
// ErrNotFound; no free port is ErrExhausted.
func (r *Registry) BeginHandover(name string, pid int) (uint16, error) {
	cpid, err := optionalPID(pid)
	if err != nil {
		return 0, err
	}
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_begin_handover(h, cname, cpid, out)
	})
}

// CommitHandover completes name's handover: it releases the old port and makes the next one
// current (owned by the next generation's process, when one was given), and returns it. An
// unknown name, or no handover under way, is ErrNotFound.
func (r *Registry) CommitHandover(name string) (uint16, error) {
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_commit_handover(h, cname, out)
	})
}

// AbortHandover abandons name's handover: it releases the next generation's port and returns
// it; the current lease is untouched. Errors as CommitHandover.
func (r *Registry) AbortHandover(name string) (uint16, error) {
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_abort_handover(h, cname, out)
	})
}

// AllocateMany allocates a port of pool ("" means "default") to each of names in one locked
// write, all or none, and returns the ports in the order of names. Names that already hold a
// lease get theirs back. Errors as Allocate; a name given twice is ErrInvalidArgument.
func (r *Registry) AllocateMany(names []string, pool string, opts ...LeaseOption) ([]uint16, error) {
	options, err := buildOptions(opts)
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
// returns the lease. Once the owner exits, the lease is stale and is reclaimed.
func (r *Registry) SetOwner(name string, pid int) (Lease, error) {
	cpid, err := optionalPID(pid)
	if err != nil {
		return Lease{}, err
	}
	cname, err := cString("name", name)
	if err != nil {
		return Lease{}, err
	}
	defer C.free(unsafe.Pointer(cname))
	var lease leaseJSON
	err = r.callJSON(&lease, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_set_owner(h, cname, cpid, out)
	})
	return lease.lease(), err
}

// Who is everything known about one port.
type Who struct {
	Port uint16
	// Leases holding the port, TCP and UDP (during a handover, as the current or next port).
	Leases []Lease
	// Sockets bound to the port, with their processes; nil when Unavailable says why they
	// could not be read.
	Sockets     []Socket
	Unavailable string
}

// Socket is a server socket: a TCP listener, or a bound, unconnected UDP socket.
type Socket struct {
	Protocol Protocol
	// Address is the local address, e.g. "0.0.0.0:8080" or "[::1]:8080".
	Address string
	// Processes holding it; empty when their descriptors cannot be seen.
	Processes []Process
}

// Process is a process holding a socket.
type Process struct {
	PID     int
	Program string
}

type whoJSON struct {
	Port    uint16      `json:"port"`
	Leases  []leaseJSON `json:"leases"`
	Sockets []struct {
		Protocol  Protocol `json:"protocol"`
		Address   string   `json:"address"`
		Processes []struct {
			PID     int    `json:"pid"`
			Program string `json:"program"`
		} `json:"processes"`
	} `json:"sockets"`
	Unavailable *string `json:"unavailable"`
}

// Who returns the leases holding port (TCP and UDP) and the server sockets bound to it with
// their processes. It walks every process's descriptors.
func (r *Registry) Who(port uint16) (Who, error) {
	var raw whoJSON
	err := r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_who_json(h, C.uint16_t(port), out)
	})
	if err != nil {
		return Who{}, err
	}
	who := Who{Port: raw.Port, Leases: leases(raw.Leases)}
	if raw.Unavailable != nil {
		who.Unavailable = *raw.Unavailable
	}
	for _, s := range raw.Sockets {
		socket := Socket{Protocol: s.Protocol, Address: s.Address, Processes: []Process{}}
		for _, p := range s.Processes {
			socket.Processes = append(socket.Processes, Process{PID: p.PID, Program: p.Program})
		}
		who.Sockets = append(who.Sockets, socket)
	}
	return who, nil
}

// Migrate registers every port a server socket is bound to now as a fixed, permanent lease
// named after its program, and returns the leases made. Ports already leased are left alone.
// With dryRun it returns the plan and writes nothing. /proc that cannot be read is ErrIO.
func (r *Registry) Migrate(dryRun bool) ([]Lease, error) {
	var raw []leaseJSON
	err := r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_migrate_json(h, C.bool(dryRun), out)
	})
	if err != nil {
		return nil, err
	}
	return leases(raw), nil
}

// ImportReport is what Import did.
type ImportReport struct {
	// Imported are the leases made, one per entry of the file.
	Imported []Lease
	// Skipped are the names already present with the same port.
	Skipped []string
}

// Import reads a flat {"name": port, ...} file into fixed, permanent TCP leases, in one
// write. Names already present with the same port are skipped; any problem refuses the whole
// file, listing every problem, and writes nothing. A missing file is ErrNotFound; a file that
// is not such a map, or has bad names or ports, is ErrInvalidArgument; a port leased to
// another name is ErrConflict.
func (r *Registry) Import(path string) (ImportReport, error) {
	cpath, err := cString("file", path)
	if err != nil {
		return ImportReport{}, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var raw struct {
		Imported []leaseJSON `json:"imported"`
		Skipped  []string    `json:"skipped"`
	}
	err = r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_import(h, cpath, out)
	})
	if err != nil {
		return ImportReport{}, err
	}
	return ImportReport{Imported: leases(raw.Imported), Skipped: raw.Skipped}, nil
}

// FindingKind is a kind of problem Doctor reports.
type FindingKind string

// The kinds of problem Doctor reports.
const (
	// FindingNotListening: a live lease whose port no server socket is bound to.
	FindingNotListening FindingKind = "not_listening"
	// FindingForeignListener: a socket on a leased port held by a process that is neither the
	// lease's owner nor one of its descendants.
	FindingForeignListener FindingKind = "foreign_listener"
	// FindingStaleOwner: a lease whose owner process has exited.
	FindingStaleOwner FindingKind = "stale_owner"
	// FindingExpired: a lease whose time to live ran out.
	FindingExpired FindingKind = "expired"
	// FindingEphemeralOverlap: a pool overlapping the kernel's ephemeral port range.
	FindingEphemeralOverlap FindingKind = "ephemeral_overlap"
)

// Finding is one problem Doctor found.
type Finding struct {
	Kind FindingKind `json:"kind"`
	// Subject is the lease or pool concerned.
	Subject string `json:"subject"`
	// Message is a sentence for people.
	Message string `json:"message"`
}

// DoctorReport is what Doctor found.
type DoctorReport struct {
	// Findings is empty when all is well.
	Findings []Finding
	// Unavailable says why sockets could not be inspected (listener checks were skipped).
	Unavailable string
}

// Doctor checks the registry against the host: leases nothing listens on, listeners on leased
// ports that are not the owner's, stale owners, expired leases, and pools overlapping the
// kernel's ephemeral port range. It only reads.
func (r *Registry) Doctor() (DoctorReport, error) {
	var raw struct {
		Findings    []Finding `json:"findings"`
		Unavailable *string   `json:"unavailable"`
	}
	err := r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_doctor_json(h, out)
	})
	if err != nil {
		return DoctorReport{}, err
	}
	report := DoctorReport{Findings: raw.Findings}
	if raw.Unavailable != nil {
		report.Unavailable = *raw.Unavailable
	}
	return report, nil
}

// portOf runs a call that takes a name and returns a port.
func (r *Registry) portOf(name string, call func(*C.portpool_registry, *C.char, *C.uint16_t) C.enum_portpool_status) (uint16, error) {
	cname, err := cString("name", name)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cname))
	var out C.uint16_t
	err = r.call(func(h *C.portpool_registry) C.enum_portpool_status { return call(h, cname, &out) })
	return uint16(out), err
}

// optionalPID converts a pid where 0 means no process.
func optionalPID(pid int) (C.uint32_t, error) {
	if pid < 0 || pid > math.MaxUint32 {
		return 0, invalid("invalid pid %d: no such process", pid)
	}
	return C.uint32_t(pid), nil
}
