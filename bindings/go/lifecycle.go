package portpool

/*
#include <stdlib.h>
#include "portpool.h"
*/
import "C"

import (
	"unsafe"
)

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
	o, err := collectOptions(opts, setOwner, "BeginHandover")
	if err != nil {
		return 0, err
	}
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_begin_handover(h, cname, o.c.pid, out)
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
	o, err := collectOptions(opts, setOwner, "CommitHandover")
	if err != nil {
		return 0, err
	}
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_commit_handover(h, cname, o.c.pid, out)
	})
}

// AbortHandover abandons name's handover: it releases the next generation's port and returns
// it; the current lease is untouched. WithOwner is checked as by CommitHandover. Errors as
// CommitHandover.
func (r *Registry) AbortHandover(name string, opts ...LeaseOption) (uint16, error) {
	o, err := collectOptions(opts, setOwner, "AbortHandover")
	if err != nil {
		return 0, err
	}
	return r.portOf(name, func(h *C.portpool_registry, cname *C.char, out *C.uint16_t) C.enum_portpool_status {
		return C.portpool_abort_handover(h, cname, o.c.pid, out)
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
// returns the lease. Once the owner exits, the lease is stale and is reclaimed. A negative
// pid, or one that names no running process, is ErrInvalidArgument.
func (r *Registry) SetOwner(name string, pid int) (Lease, error) {
	cpid := C.int64_t(pid)
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
	// FindingNotListening: a live lease whose port no server socket is bound to
	// (informational).
	FindingNotListening FindingKind = "not_listening"
	// FindingForeignListener: a socket on a leased port held by a process that is neither the
	// lease's owner nor one of its descendants.
	FindingForeignListener FindingKind = "foreign_listener"
	// FindingStaleOwner: a lease whose owner process has exited.
	FindingStaleOwner FindingKind = "stale_owner"
	// FindingStaleNextOwner: a handover whose next generation's process has exited; its port
	// is free again.
	FindingStaleNextOwner FindingKind = "stale_next_owner"
	// FindingExpired: a lease whose time to live ran out.
	FindingExpired FindingKind = "expired"
	// FindingTakenOver: a lease Migrate recorded whose port another program now holds.
	FindingTakenOver FindingKind = "taken_over"
	// FindingEphemeralOverlap: a pool overlapping the kernel's ephemeral port range.
	FindingEphemeralOverlap FindingKind = "ephemeral_overlap"
	// FindingSplitRegistry: the caller's per-user registry still holds leases while the host
	// registry exists; nobody else sees them (Subject is its path).
	FindingSplitRegistry FindingKind = "split_registry"
)

// Severity is how much a Finding matters.
type Severity string

const (
	// SeverityInfo: worth knowing; nothing is wrong with the registry.
	SeverityInfo Severity = "info"
	// SeverityWarning: something a person should look at.
	SeverityWarning Severity = "warning"
)

// Finding is one problem Doctor found.
type Finding struct {
	Kind FindingKind `json:"kind"`
	// Severity is SeverityInfo for FindingNotListening, SeverityWarning for every other kind.
	Severity Severity `json:"severity"`
	// Subject is the lease or pool concerned.
	Subject string `json:"subject"`
	// Port is the port concerned, for findings about a lease; else 0.
	Port uint16 `json:"port"`
	// Protocol is the port's protocol, for findings about a lease.
	Protocol Protocol `json:"protocol"`
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
// ports that are not the owner's, ports Migrate recorded that another program took over, stale
// owners (of a lease or of a handover's next generation), expired leases, and pools
// overlapping the kernel's ephemeral port range. It only reads.
func (r *Registry) Doctor() (DoctorReport, error) {
	var raw struct {
		Findings []struct {
			Finding
			Port     *uint16   `json:"port"`
			Protocol *Protocol `json:"protocol"`
		} `json:"findings"`
		Unavailable *string `json:"unavailable"`
	}
	err := r.callJSON(&raw, func(h *C.portpool_registry, out **C.char) C.enum_portpool_status {
		return C.portpool_doctor_json(h, out)
	})
	if err != nil {
		return DoctorReport{}, err
	}
	report := DoctorReport{Findings: make([]Finding, len(raw.Findings))}
	for i, f := range raw.Findings {
		report.Findings[i] = f.Finding
		if f.Port != nil {
			report.Findings[i].Port = *f.Port
		}
		if f.Protocol != nil {
			report.Findings[i].Protocol = *f.Protocol
		}
	}
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
