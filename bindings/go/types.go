//go:build cgo

package portpool

import (
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

var modeNames = []string{"flexible", "fixed", "pool"}

// String returns "flexible", "fixed" or "pool".
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// MarshalText writes the name String returns, so a Lease survives encoding/json.
func (m Mode) MarshalText() ([]byte, error) {
	if m < 0 || int(m) >= len(modeNames) {
		return nil, fmt.Errorf("invalid mode %d", int(m))
	}
	return []byte(modeNames[m]), nil
}

// UnmarshalText reads the names String returns.
func (m *Mode) UnmarshalText(text []byte) error {
	for i, name := range modeNames {
		if string(text) == name {
			*m = Mode(i)
			return nil
		}
	}
	return fmt.Errorf("unknown mode %q", text)
}

// Protocol is a transport protocol. A lease is per (port, protocol): a UDP lease never
// blocks a TCP lease of the same port.
type Protocol int

const (
	// TCP, the default.
	TCP Protocol = iota
	// UDP.
	UDP
)

// String returns "tcp" or "udp".
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// MarshalText writes the name String returns, so a Lease survives encoding/json.
func (p Protocol) MarshalText() ([]byte, error) {
	if p != TCP && p != UDP {
		return nil, fmt.Errorf("invalid protocol %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads the names String returns.
func (p *Protocol) UnmarshalText(text []byte) error {
	switch string(text) {
	case "tcp":
		*p = TCP
	case "udp":
		*p = UDP
	default:
		return fmt.Errorf("unknown protocol %q", text)
	}
	return nil
}

// Owner is the process a lease belongs to. StartTime tells a live owner from a recycled pid.
type Owner struct {
	PID       int
	StartTime uint64
}

// Lease is one port held by one name.
type Lease struct {
	Name     string
	Port     uint16
	Protocol Protocol
	Mode     Mode
	// Pool is the pool a ModePool lease came from, else "".
	Pool    string
	Created time.Time
	// Owner is nil for a lease that no process owns.
	Owner *Owner
	// TTL is the time to live that Renew restarts, or 0 for none.
	TTL time.Duration
	// Expires is when the lease runs out, or the zero Time for never.
	Expires time.Time
	// Next is the next generation's port while a handover is under way, else nil.
	Next *Next
	// Origin is, for a lease Migrate made, the process bound to the port then; else nil.
	Origin *Origin
	// Stale says why the lease is stale (time to live over, owner gone, a handover's owner
	// gone), in leases from List and Who; "" for a lease that holds its ports.
	Stale string
}

// Origin is the process Migrate saw bound to a port when it recorded the lease.
type Origin struct {
	PID       int
	StartTime uint64
	Program   string
}

// Next is the port a handover leased for the next generation of a lease.
type Next struct {
	Port uint16
	// Created is when the handover began.
	Created time.Time
	// Owner is the next generation's process, which owns the lease after the commit.
	Owner *Owner
}

// Pool is a named port range with a round-robin cursor shared by every process on the host.
type Pool struct {
	Name       string
	Start, End uint16
	// Cursor is the next port Allocate will consider.
	Cursor uint16
	// Probe tells whether Allocate bind-probes candidate ports.
	Probe bool
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

// Reclaimed is a stale lease that GC released, and why.
type Reclaimed struct {
	Lease Lease
	// Reason is e.g. "owner pid 4242 is gone" or "expired 3s ago".
	Reason string
}

// The JSON shapes libportpool returns (those of `portpool list --json`).
type ownerJSON struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

type leaseJSON struct {
	Name     string     `json:"name"`
	Port     uint16     `json:"port"`
	Protocol Protocol   `json:"protocol"`
	Mode     Mode       `json:"mode"`
	Pool     *string    `json:"pool"`
	Created  int64      `json:"created"`
	Owner    *ownerJSON `json:"owner"`
	TTL      *int64     `json:"ttl"`
	Expires  *int64     `json:"expires"`
	Next     *nextJSON  `json:"next"`
	Origin   *struct {
		PID       int    `json:"pid"`
		StartTime uint64 `json:"start_time"`
		Program   string `json:"program"`
	} `json:"origin"`
	Stale *string `json:"stale"`
}

type nextJSON struct {
	Port    uint16     `json:"port"`
	Created int64      `json:"created"`
	Owner   *ownerJSON `json:"owner"`
}

func (o *ownerJSON) owner() *Owner {
	if o == nil {
		return nil
	}
	return &Owner{PID: o.PID, StartTime: o.StartTime}
}

func (l leaseJSON) lease() Lease {
	out := Lease{
		Name:     l.Name,
		Port:     l.Port,
		Protocol: l.Protocol,
		Mode:     l.Mode,
		Created:  time.Unix(l.Created, 0),
	}
	if l.Pool != nil {
		out.Pool = *l.Pool
	}
	out.Owner = l.Owner.owner()
	if l.TTL != nil {
		out.TTL = time.Duration(*l.TTL) * time.Second
	}
	if l.Expires != nil {
		out.Expires = time.Unix(*l.Expires, 0)
	}
	if l.Next != nil {
		out.Next = &Next{Port: l.Next.Port, Created: time.Unix(l.Next.Created, 0), Owner: l.Next.Owner.owner()}
	}
	if l.Origin != nil {
		out.Origin = &Origin{PID: l.Origin.PID, StartTime: l.Origin.StartTime, Program: l.Origin.Program}
	}
	if l.Stale != nil {
		out.Stale = *l.Stale
	}
	return out
}

func leases(raw []leaseJSON) []Lease {
	out := make([]Lease, len(raw))
	for i, l := range raw {
		out[i] = l.lease()
	}
	return out
}

type poolJSON struct {
	Name   string `json:"name"`
	Start  uint16 `json:"start"`
	End    uint16 `json:"end"`
	Cursor uint16 `json:"cursor"`
	Probe  bool   `json:"probe"`
}

func (p poolJSON) pool() Pool {
	return Pool{Name: p.Name, Start: p.Start, End: p.End, Cursor: p.Cursor, Probe: p.Probe}
}

type reclaimedJSON struct {
	Lease  leaseJSON `json:"lease"`
	Reason string    `json:"reason"`
}

// decode reads JSON that libportpool produced; a failure here is a bug, not the caller's.
func decode(text string, into any) error {
	if err := json.Unmarshal([]byte(text), into); err != nil {
		return &Error{Kind: ErrInternal, Message: fmt.Sprintf("reading libportpool's JSON: %v", err)}
	}
	return nil
}
