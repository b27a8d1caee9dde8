//go:build cgo

package portpool

// The values libportpool returns. Composite values cross the C ABI as core's serde JSON (the
// shapes `portpool list --json` prints), and each type here decodes that JSON directly
// through its field tags: there is no second, hand-copied set of types. A field core adds
// makes TestEveryTypeReadsAndWritesCoresJSONExactly fail until the Go type has it, and
// MarshalJSON writes core's shape back, so a value survives encoding/json both ways.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Mode is how a lease was made, and how Register picks a port.
type Mode int

const (
	// ModeFlexible: the preferred port, or the next free one above it.
	ModeFlexible Mode = iota
	// ModeFixed: exactly the requested port, or ErrConflict.
	ModeFixed
	// ModePool: taken from a pool by Allocate. Register rejects it.
	ModePool
)

// The names core gives the values of Mode and Protocol, in the order of their constants.
var (
	modeNames     = []string{"flexible", "fixed", "pool"}
	protocolNames = []string{"tcp", "udp", "tcp+udp"}
)

// String returns "flexible", "fixed" or "pool".
func (m Mode) String() string { return enumString(modeNames, "Mode", int(m)) }

// MarshalText writes the name String returns, as core's JSON does.
func (m Mode) MarshalText() ([]byte, error) { return enumText(modeNames, "mode", int(m)) }

// UnmarshalText reads the names String returns.
func (m *Mode) UnmarshalText(text []byte) error {
	return enumParse(modeNames, "mode", text, (*int)(m))
}

// Protocol is what a lease holds its port for: TCP, UDP, or both. A UDP lease never blocks a
// TCP lease of the same port, while a TCPUDP lease blocks (and is blocked by) either.
type Protocol int

const (
	// TCP, the default.
	TCP Protocol = iota
	// UDP.
	UDP
	// TCPUDP holds one port number for TCP and UDP at once ("tcp+udp"): leased for both, and
	// free only when both a TCP and a UDP socket could bind it. Listen and ListenPacket
	// bind one protocol and do not take it.
	TCPUDP
)

// String returns "tcp", "udp" or "tcp+udp".
func (p Protocol) String() string { return enumString(protocolNames, "Protocol", int(p)) }

// MarshalText writes the name String returns, as core's JSON does.
func (p Protocol) MarshalText() ([]byte, error) { return enumText(protocolNames, "protocol", int(p)) }

// UnmarshalText reads the names String returns.
func (p *Protocol) UnmarshalText(text []byte) error {
	return enumParse(protocolNames, "protocol", text, (*int)(p))
}

func enumString(names []string, typeName string, i int) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("%s(%d)", typeName, i)
}

func enumText(names []string, what string, i int) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return nil, fmt.Errorf("invalid %s %d", what, i)
	}
	return []byte(names[i]), nil
}

func enumParse(names []string, what string, text []byte, into *int) error {
	for i, name := range names {
		if string(text) == name {
			*into = i
			return nil
		}
	}
	return fmt.Errorf("unknown %s %q", what, text)
}

// Owner is the process a lease belongs to. StartTime tells a live owner from a recycled pid.
type Owner struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	// PIDNamespace is the pid namespace PID belongs to (the inode of /proc/self/ns/pid of the
	// process that recorded it); 0 in records made before portpool recorded namespaces. A
	// process in another namespace never takes the lease for stale.
	PIDNamespace uint64 `json:"pid_ns,omitempty"`
}

// Lease is one port held by one name. It encodes to JSON as `portpool list --json` prints a
// lease.
type Lease struct {
	Name     string   `json:"name"`
	Port     int      `json:"port"`
	Protocol Protocol `json:"protocol"`
	Mode     Mode     `json:"mode"`
	// Pool is the pool a ModePool lease came from, else "" (null in JSON).
	Pool string `json:"pool"`
	// Created is when the lease was made (Unix seconds in JSON).
	Created time.Time `json:"created"`
	// Owner is nil for a lease that no process owns.
	Owner *Owner `json:"owner"`
	// TTL is the time to live that Renew restarts, or 0 for none (seconds or null in JSON).
	TTL time.Duration `json:"ttl"`
	// Expires is when the lease runs out, or the zero Time for never (Unix seconds or null).
	Expires time.Time `json:"expires"`
	// Next is the next generation's port while a handover is under way, else nil.
	Next *Next `json:"next"`
	// Origin is, for a lease Migrate made, the process bound to the port then; else nil.
	Origin *Origin `json:"origin,omitempty"`
	// Namespace is the namespace the name lives in; "" for the default one (null in JSON).
	Namespace string `json:"namespace"`
	// Generation counts the handovers begun on the lease; a handover's ticket is the
	// generation it began.
	Generation uint64 `json:"generation"`
	// Stale says why the lease is stale (time to live over, owner gone, a handover's owner
	// gone), in leases from List and Who; "" for a lease that holds its ports.
	Stale string `json:"stale,omitempty"`
	// UID is the user id of the process that made the lease, nil in leases made before
	// portpool recorded it. Only that user or root may release it, register its name again,
	// hand it over or change its owner, unless the Registry forces (SetForce).
	UID *uint32 `json:"uid"`
}

// wire is l as core writes it: the fields whose Go type differs from their JSON point into l
// through the conversions below, every other field is l's own.
func (l *Lease) wire() any {
	type plain Lease // without these methods
	return &struct {
		*plain
		Pool      *nullString `json:"pool"`
		Created   *unixTime   `json:"created"`
		TTL       *seconds    `json:"ttl"`
		Expires   *unixTime   `json:"expires"`
		Namespace *nullString `json:"namespace"`
	}{(*plain)(l), (*nullString)(&l.Pool), (*unixTime)(&l.Created), (*seconds)(&l.TTL), (*unixTime)(&l.Expires), (*nullString)(&l.Namespace)}
}

// MarshalJSON writes the lease as core does.
func (l Lease) MarshalJSON() ([]byte, error) { return json.Marshal(l.wire()) }

// UnmarshalJSON reads a lease as core writes it.
func (l *Lease) UnmarshalJSON(text []byte) error { return readWire(l, text) }

// Origin is the process Migrate saw bound to a port when it recorded the lease.
type Origin struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	Program   string `json:"program"`
}

// Next is the port a handover leased for the next generation of a lease.
type Next struct {
	Port int `json:"port"`
	// Created is when the handover began.
	Created time.Time `json:"created"`
	// Owner is the next generation's process, which owns the lease after the commit.
	Owner *Owner `json:"owner"`
	// Ticket commits or aborts this handover and no other (0 in records made before tickets).
	Ticket uint64 `json:"ticket"`
}

// Handover is a handover under way, as BeginHandoverTicket and BeginHandovers return it.
type Handover struct {
	Name string `json:"name"`
	// Port is the next generation's port.
	Port int `json:"port"`
	// Ticket commits or aborts this handover and no other.
	Ticket uint64 `json:"ticket"`
	// Created says whether this call began it (false: a retry that named its ticket).
	Created bool `json:"created"`
}

// Ending names a handover that CommitHandovers or AbortHandovers ends: Ticket 0 ends
// whatever handover of Name is under way, unchecked.
type Ending struct {
	Name   string
	Ticket uint64
}

func (n *Next) wire() any {
	type plain Next
	return &struct {
		*plain
		Created *unixTime `json:"created"`
	}{(*plain)(n), (*unixTime)(&n.Created)}
}

// MarshalJSON writes the handover's next port as core does.
func (n Next) MarshalJSON() ([]byte, error) { return json.Marshal(n.wire()) }

// UnmarshalJSON reads the handover's next port as core writes it.
func (n *Next) UnmarshalJSON(text []byte) error { return readWire(n, text) }

// Pool is a named port range with a round-robin cursor shared by every process on the host.
type Pool struct {
	Name  string `json:"name"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	// Cursor is the next port Allocate will consider.
	Cursor int `json:"cursor"`
	// Probe tells whether Allocate bind-probes candidate ports.
	Probe bool `json:"probe"`
	// UID is the user id of the process that created the pool, nil for the default pool and
	// pools created before portpool recorded it. Only that user or root may change it, unless
	// the Registry forces (SetForce).
	UID *uint32 `json:"uid,omitempty"`
}

// PortState is what Check found on a port. The zero value, PortUnknown, is what Check returns
// with an error.
type PortState int

const (
	// PortUnknown: nothing was found out (Check failed).
	PortUnknown PortState = iota
	// PortFree: neither leased nor bound; Register or Allocate could hand it out now.
	PortFree
	// PortLeased: leased to a live holder.
	PortLeased
	// PortBusy: not leased, but bound by a process outside the registry.
	PortBusy
)

// portStateOffset maps libportpool's port states (free = 0) to PortState.
const portStateOffset = PortFree

// String returns "unknown", "free", "leased" or "busy".
func (s PortState) String() string {
	switch s {
	case PortUnknown:
		return "unknown"
	case PortFree:
		return "free"
	case PortLeased:
		return "leased"
	case PortBusy:
		return "busy"
	}
	return fmt.Sprintf("PortState(%d)", int(s))
}

// MarshalText writes the name String returns.
func (s PortState) MarshalText() ([]byte, error) {
	if s < PortUnknown || s > PortBusy {
		return nil, fmt.Errorf("invalid port state %d", int(s))
	}
	return []byte(s.String()), nil
}

// PoolChange is what SetPool did: the pool as set (embedded, so change.Start and the others
// read as the pool's), and warnings for the user.
type PoolChange struct {
	Pool `json:"pool"`
	// Warnings are sentences about a pool that works but deserves a second look, e.g. one
	// whose range overlaps the kernel's ephemeral ports; empty when there is nothing to say.
	Warnings []string `json:"warnings"`
}

// Reclaimed is a stale lease that GC released, and why.
type Reclaimed struct {
	Lease Lease `json:"lease"`
	// Reason is e.g. "owner pid 4242 is gone" or "expired 3s ago".
	Reason string `json:"reason"`
}

// Who is everything known about one port.
type Who struct {
	Port int `json:"port"`
	// Leases holding the port, TCP and UDP (during a handover, as the current or next port).
	Leases []Lease `json:"leases"`
	// Sockets bound to the port, with their processes; nil when Unavailable says why they
	// could not be read.
	Sockets []Socket `json:"sockets"`
	// Unavailable says why Sockets could not be read; "" (null in JSON) when they were.
	Unavailable string `json:"unavailable"`
}

func (w *Who) wire() any {
	type plain Who
	return &struct {
		*plain
		Unavailable *nullString `json:"unavailable"`
	}{(*plain)(w), (*nullString)(&w.Unavailable)}
}

// MarshalJSON writes the report as core does.
func (w Who) MarshalJSON() ([]byte, error) { return json.Marshal(w.wire()) }

// UnmarshalJSON reads the report as core writes it.
func (w *Who) UnmarshalJSON(text []byte) error { return readWire(w, text) }

// Socket is a server socket: a TCP listener, or a bound, unconnected UDP socket.
type Socket struct {
	Protocol Protocol `json:"protocol"`
	// Address is the local address, e.g. "0.0.0.0:8080" or "[::1]:8080".
	Address string `json:"address"`
	// Processes holding it; empty when their descriptors cannot be seen.
	Processes []Process `json:"processes"`
}

// Process is a process holding a socket.
type Process struct {
	PID     int    `json:"pid"`
	Program string `json:"program"`
}

// ImportReport is what Import did.
type ImportReport struct {
	// Imported are the leases made, one per entry of the file.
	Imported []Lease `json:"imported"`
	// Skipped are the names already present with the same port.
	Skipped []string `json:"skipped"`
}

// RepairReport is what Repair did.
type RepairReport struct {
	// Repaired is false when the registry read back and every file beside it was as it
	// should be: nothing was touched.
	Repaired bool `json:"repaired"`
	// Kept is how many leases the registry holds now.
	Kept int `json:"kept"`
	// Lost names, one sentence each, what could not be kept: its line and its lease.
	Lost []string `json:"lost"`
	// MovedAside are the paths damaged or foreign files were moved to; nothing is deleted.
	MovedAside []string `json:"moved_aside"`
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
	// FindingLongHandover: a handover under way for longer than 5 minutes (a supervisor that
	// died between begin and commit); the message names its ticket.
	FindingLongHandover FindingKind = "long_handover"
	// FindingUncompacted: the registry file is not being compacted (its writers have no
	// usable spare and its owner has not written); Subject is its path.
	FindingUncompacted FindingKind = "uncompacted"
	// FindingUnreserved: leased ports inside the kernel's ephemeral range that the kernel does
	// not reserve, in one finding (Subject is net.ipv4.ip_local_reserved_ports); `portpool
	// reserve` (root) removes the risk.
	FindingUnreserved FindingKind = "unreserved"
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
	// Port is the port concerned, for findings about a lease; else 0 (null in JSON).
	Port int `json:"port"`
	// Protocol is the port's protocol, for findings about a lease (null in JSON for others).
	Protocol Protocol `json:"protocol"`
	// Message is a sentence for people.
	Message string `json:"message"`
}

// MarshalJSON writes the finding as core does: port and protocol are null for a finding
// about no port.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	var port, protocol any
	if f.Port != 0 {
		port, protocol = f.Port, f.Protocol
	}
	return json.Marshal(struct {
		plain
		Port     any `json:"port"`
		Protocol any `json:"protocol"`
	}{plain(f), port, protocol})
}

// UnmarshalJSON reads a finding as core writes it.
func (f *Finding) UnmarshalJSON(text []byte) error {
	type plain Finding
	*f = Finding{}
	return unmarshal(text, (*plain)(f)) // null leaves Port and Protocol at 0 and TCP
}

// DoctorReport is what Doctor found.
type DoctorReport struct {
	// Findings is empty when all is well.
	Findings []Finding `json:"findings"`
	// Unavailable says why sockets could not be inspected (listener checks were skipped); ""
	// (null in JSON) when they were.
	Unavailable string `json:"unavailable"`
}

func (d *DoctorReport) wire() any {
	type plain DoctorReport
	return &struct {
		*plain
		Unavailable *nullString `json:"unavailable"`
	}{(*plain)(d), (*nullString)(&d.Unavailable)}
}

// MarshalJSON writes the report as core does.
func (d DoctorReport) MarshalJSON() ([]byte, error) { return json.Marshal(d.wire()) }

// UnmarshalJSON reads the report as core writes it.
func (d *DoctorReport) UnmarshalJSON(text []byte) error { return readWire(d, text) }

// readWire reads core's JSON into v, emptied first, through v's wire form: the struct that
// puts each field whose Go type differs from its JSON behind a conversion.
func readWire[T any, P interface {
	*T
	wire() any
}](v P, text []byte) error {
	var empty T
	*v = empty
	return unmarshal(text, v.wire())
}

// nullString is a string that core writes as null when there is none ("" in Go).
type nullString string

func (s nullString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

// unixTime is a time core writes as whole Unix seconds, or null for none (the zero Time).
type unixTime time.Time

func (t unixTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).Unix())
}

func (t *unixTime) UnmarshalJSON(text []byte) error {
	var s int64
	if err := json.Unmarshal(text, &s); err != nil {
		return err
	}
	*t = unixTime(time.Unix(s, 0))
	return nil
}

// seconds is a duration core writes as whole seconds, or null for none (0).
type seconds time.Duration

func (d seconds) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte("null"), nil
	}
	return json.Marshal(int64(time.Duration(d) / time.Second))
}

func (d *seconds) UnmarshalJSON(text []byte) error {
	var s int64
	if err := json.Unmarshal(text, &s); err != nil {
		return err
	}
	*d = seconds(time.Duration(s) * time.Second)
	return nil
}

// The package's tests set these (export_test.go), so that a field core adds, or a Go field core
// does not write, fails them until the two agree: strictJSON makes unmarshal refuse a JSON
// field that has no Go field, and checkDecoded checks that each value decode produced writes
// back exactly the JSON it was read from. A program linked with a newer libportpool than its
// copy of this package just ignores a field it does not know.
var (
	strictJSON   bool
	checkDecoded func(text string, value any) error
)

// unmarshal reads JSON that core wrote into into.
func unmarshal(text []byte, into any) error {
	decoder := json.NewDecoder(bytes.NewReader(text))
	if strictJSON {
		decoder.DisallowUnknownFields()
	}
	return decoder.Decode(into)
}

// decode reads JSON that libportpool produced; a failure here is a bug, not the caller's.
func decode(text string, into any) error {
	err := unmarshal([]byte(text), into)
	if err == nil && checkDecoded != nil {
		err = checkDecoded(text, into)
	}
	if err != nil {
		return &Error{Kind: ErrInternal, Message: fmt.Sprintf("reading libportpool's JSON: %v", err)}
	}
	return nil
}
