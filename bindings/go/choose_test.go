package portpool_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	"portpool"
)

func TestRegisterAnyTakesThePreferredPortsInOrder(t *testing.T) {
	reg, _ := open(t)
	first := freeBlock(t, 7) // the preferred ports, out of order, and the one above the last
	preferred := []int{first + 5, first, first + 2}
	for i, want := range preferred {
		name := string(rune('a' + i))
		if got := must(reg.RegisterAny(name, preferred, portpool.ModeFixed)); got != want {
			t.Fatalf("%s got %d, want %d: the first preferred port not leased yet", name, got, want)
		}
	}
	// Fixed mode without a range takes only the listed ports.
	_, err := reg.RegisterAny("d", preferred, portpool.ModeFixed)
	wantErr(t, err, portpool.ErrConflict)
	// Flexible mode without a range goes on upward from the first preferred port.
	if got := must(reg.RegisterAny("e", preferred, portpool.ModeFlexible)); got != first+6 {
		t.Fatalf("flexible after the preferred ports got %d, want %d", got, first+6)
	}
}

func TestRegisterFallsBackToTheRangeInOrder(t *testing.T) {
	reg, _ := open(t)
	bound := listen(t)
	lo := freeBlock(t, 4) // the range's first four ports
	inRange := portpool.WithRange(lo, lo+9)
	if got := must(reg.Register("fixed", bound, portpool.ModeFixed, inRange)); got != lo {
		t.Fatalf("a bound fixed port, then the range: got %d, want %d", got, lo)
	}
	// With a range, flexible mode takes the range's ports next, not the ports above.
	if got := must(reg.Register("flexible", bound, portpool.ModeFlexible, inRange)); got != lo+1 {
		t.Fatalf("a bound flexible port, then the range: got %d, want %d", got, lo+1)
	}
	if got := must(reg.RegisterAny("range-only", nil, portpool.ModeFixed, inRange)); got != lo+2 {
		t.Fatalf("no preferred port, a range: got %d, want %d", got, lo+2)
	}
	must(reg.RegisterAny("fill", nil, portpool.ModeFixed, portpool.WithRange(lo+3, lo+3)))
	_, err := reg.RegisterAny("none-left", []int{lo}, portpool.ModeFixed, portpool.WithRange(lo+1, lo+3))
	wantErr(t, err, portpool.ErrExhausted, fmt.Sprintf("%d or %d-%d", lo, lo+1, lo+3))
	if _, err := reg.Get("none-left"); !errors.Is(err, portpool.ErrNotFound) {
		t.Fatalf("a refused RegisterAny leased something: %v", err)
	}
}

func TestExcludedPortsAreNeverHandedOut(t *testing.T) {
	reg, _ := open(t)
	// Registers from b, a scoped lease from b+4, FindFreeN in b+6 to b+12.
	b := freeBlock(t, 13)
	exclude := portpool.WithExclude(b, b+1)
	if got := must(reg.Register("flexible", b, portpool.ModeFlexible, exclude)); got != b+2 {
		t.Fatalf("Register flexible from an excluded port: %d, want %d", got, b+2)
	}
	_, err := reg.Register("fixed", b, portpool.ModeFixed, exclude)
	wantErr(t, err, portpool.ErrConflict, fmt.Sprint(b), "excluded")
	if got := must(reg.RegisterAny("ranged", []int{b + 1}, portpool.ModeFixed, exclude, portpool.WithRange(b, b+10))); got != b+3 {
		t.Fatalf("RegisterAny past excluded and leased ports: %d, want %d", got, b+3)
	}
	must(reg.SetPool("p", 24320, 24323, portpool.WithProbe(false)))
	// WithExclude given twice adds up.
	poolExclude := []portpool.LeaseOption{portpool.WithExclude(24320), portpool.WithExclude(24321, 24323)}
	if got := must(reg.Allocate("pooled", "p", poolExclude...)); got != 24322 {
		t.Fatalf("Allocate past excluded pool ports: %d, want 24322", got)
	}
	_, err = reg.Allocate("more", "p", poolExclude...)
	wantErr(t, err, portpool.ErrExhausted)
	// The cursor is past 24322: 24323 is excluded, then 24320 is, and 24321 is next.
	if got := must(reg.AllocateMany([]string{"m1"}, "p", portpool.WithExclude(24323, 24320))); !slices.Equal(got, []int{24321}) {
		t.Fatalf("AllocateMany past excluded ports: %v, want [24321]", got)
	}
	lease := must(reg.Lease("scoped", portpool.WithPorts(b+4, b+5), portpool.WithExclude(b+4)))
	defer lease.Close()
	if lease.Port() != b+5 {
		t.Fatalf("Lease past an excluded port: %d, want %d", lease.Port(), b+5)
	}
	found := must(portpool.FindFreeN(3, portpool.WithRange(b+6, b+12), portpool.WithExclude(b+6, b+8, b+10)))
	for _, port := range found {
		if port == b+6 || port == b+8 || port == b+10 {
			t.Fatalf("FindFreeN returned excluded port %d in %v", port, found)
		}
	}
	for _, held := range must(reg.List()) {
		if slices.Contains([]int{b, b + 1, 24320, b + 4}, held.Port) {
			t.Fatalf("a port every call excluded was leased: %+v", held)
		}
	}
}

func TestFindFreeTriesThePreferredPortsThenTheRange(t *testing.T) {
	bound := listen(t)
	free := freeBlock(t, 2) // a preferred port, then the range's first
	inRange := portpool.WithRange(free+1, free+10)
	if got := must(portpool.FindFree(portpool.WithPorts(bound, free), inRange)); got != free {
		t.Fatalf("FindFree past a bound preferred port: %d, want %d", got, free)
	}
	if got := must(portpool.FindFree(portpool.WithPorts(bound), inRange)); got != free+1 {
		t.Fatalf("FindFree past the preferred ports into the range: %d, want %d", got, free+1)
	}
	got := must(portpool.FindFree(portpool.WithProtocol(portpool.UDP)))
	if !must(portpool.IsFree(got, portpool.UDP)) {
		t.Fatalf("FindFree(UDP) = %d, which is not free", got)
	}
	_, err := portpool.FindFree(portpool.WithPorts(bound), portpool.WithRange(bound, bound))
	wantErr(t, err, portpool.ErrExhausted)
}

func TestFindFreeNReturnsDistinctFreePorts(t *testing.T) {
	ports := must(portpool.FindFreeN(8))
	if len(ports) != 8 {
		t.Fatalf("FindFreeN(8) = %v", ports)
	}
	seen := map[int]bool{}
	for _, port := range ports {
		if seen[port] {
			t.Fatalf("FindFreeN(8) returned %d twice: %v", port, ports)
		}
		seen[port] = true
	}
	b := freeBlock(t, 6) // a range of three, and a range of three asked for four
	ranged := must(portpool.FindFreeN(3, portpool.WithPorts(b+2, b+2), portpool.WithRange(b, b+2)))
	if want := []int{b + 2, b, b + 1}; !slices.Equal(ranged, want) {
		t.Fatalf("FindFreeN(3) with a preferred port and a range: %v, want %v", ranged, want)
	}
	_, err := portpool.FindFreeN(4, portpool.WithRange(b+3, b+5))
	wantErr(t, err, portpool.ErrExhausted, "3", "4")
}

func TestWithHostChecksOnlyThatAddress(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := (l.Addr().(*net.TCPAddr).Port)
	free := freeBlock(t, 1)
	if got := must(portpool.FindFree(portpool.WithPorts(port), portpool.WithRange(free, free))); got == port {
		t.Fatalf("FindFree on the wildcards gave %d, which 127.0.0.1 has bound", port)
	}
	// Another loopback address does not see the bind: the answer is good for it alone.
	other := netip.MustParseAddr("127.0.0.2")
	if got := must(portpool.FindFree(portpool.WithPorts(port), portpool.WithHost(other))); got != port {
		t.Fatalf("FindFree on 127.0.0.2 gave %d, want %d (bound on 127.0.0.1 only)", got, port)
	}
	reg, _ := open(t)
	if got := must(reg.Register("local", port, portpool.ModeFixed, portpool.WithHost(other))); got != port {
		t.Fatalf("Register on 127.0.0.2 gave %d, want %d", got, port)
	}
	_, err = reg.Register("wild", port, portpool.ModeFixed, portpool.WithProtocol(portpool.UDP), portpool.WithHost(localhost))
	if err != nil {
		t.Fatalf("a UDP port on 127.0.0.1 that only TCP holds: %v", err)
	}
}

// badChoice is a call that chooses ports badly, and what its error says.
type badChoice struct {
	name string
	call func() error
	says string
}

// badRegistryChoices are bad port choices of calls on reg.
func badRegistryChoices(reg *portpool.Registry, notHere portpool.LeaseOption) []badChoice {
	return []badChoice{
		{"preferred port 0", func() error {
			_, err := reg.RegisterAny("web", []int{3000, 0}, portpool.ModeFixed)
			return err
		}, "invalid port 0"},
		{"no port and no range", func() error {
			_, err := reg.RegisterAny("web", nil, portpool.ModeFlexible)
			return err
		}, "no port given"},
		{"excluded port 0", func() error {
			_, err := reg.Register("web", 3000, portpool.ModeFixed, portpool.WithExclude(0))
			return err
		}, "invalid port 0"},
		{"range 0-0", func() error {
			_, err := reg.Register("web", 3000, portpool.ModeFixed, portpool.WithRange(0, 0))
			return err
		}, "invalid port 0"},
		{"range from 0", func() error {
			_, err := reg.Register("web", 3000, portpool.ModeFixed, portpool.WithRange(0, 10))
			return err
		}, "invalid port 0"},
		{"reversed range", func() error {
			_, err := reg.Register("web", 3000, portpool.ModeFixed, portpool.WithRange(4100, 4000))
			return err
		}, "invalid range 4100-4000: start is after end"},
		{"host not of this machine", func() error {
			_, err := reg.Register("web", 3000, portpool.ModeFixed, notHere)
			return err
		}, "192.0.2.7"},
		{"zero host", func() error {
			_, err := reg.Allocate("web", "", portpool.WithHost(netip.Addr{}))
			return err
		}, "zero netip.Addr"},
		{"allocate host not of this machine", func() error { _, err := reg.Allocate("web", "", notHere); return err }, "192.0.2.7"},
		{"allocate excluded port 0", func() error {
			_, err := reg.AllocateMany([]string{"web"}, "", portpool.WithExclude(0))
			return err
		}, "invalid port 0"},
		{"allocate with a range", func() error {
			_, err := reg.Allocate("web", "", portpool.WithRange(4000, 4100))
			return err
		}, "Allocate takes only WithProtocol, WithForce, WithOwner, WithTTL, WithExclude, WithHost"},
		{"lease reversed range", func() error {
			_, err := reg.Lease("web", portpool.WithPort(3000), portpool.WithRange(4100, 4000))
			return err
		}, "start is after end"},
	}
}

// badFindFreeChoices are bad port choices of FindFree and FindFreeN.
func badFindFreeChoices(notHere portpool.LeaseOption) []badChoice {
	return []badChoice{
		{"find free count 0", func() error { _, err := portpool.FindFreeN(0); return err }, "invalid count 0"},
		{"find free negative count", func() error { _, err := portpool.FindFreeN(-1); return err }, "invalid count -1"},
		{"find free port 0", func() error { _, err := portpool.FindFree(portpool.WithPorts(0)); return err }, "invalid port 0"},
		{"find free reversed range", func() error {
			_, err := portpool.FindFree(portpool.WithRange(4100, 4000))
			return err
		}, "start is after end"},
		{"find free host not of this machine", func() error { _, err := portpool.FindFree(notHere); return err }, "192.0.2.7"},
		{"find free mode", func() error {
			_, err := portpool.FindFree(portpool.WithMode(portpool.ModeFixed))
			return err
		}, "FindFree takes only WithProtocol, WithPort, WithRange, WithExclude and WithHost"},
		{"find free owner", func() error {
			_, err := portpool.FindFreeN(2, portpool.WithOwner(os.Getpid()))
			return err
		}, "FindFreeN takes only"},
	}
}

func TestBadPortChoicesAreErrInvalidArgumentAndChangeNothing(t *testing.T) {
	reg, path := open(t)
	notHere := portpool.WithHost(netip.MustParseAddr("192.0.2.7"))
	cases := append(badRegistryChoices(reg, notHere), badFindFreeChoices(notHere)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.call(), portpool.ErrInvalidArgument, c.says)
		})
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused call wrote the registry (stat: %v)", err)
	}
}

func TestIsFreeWithHostProbesThatAddressOnly(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	loopback := netip.MustParseAddr("127.0.0.1")
	if must(portpool.IsFree(port, portpool.TCP, portpool.WithHost(loopback))) {
		t.Fatalf("port %d reads free on 127.0.0.1, where it is bound", port)
	}
	if must(portpool.IsFree(port, portpool.TCP)) {
		t.Fatalf("port %d reads free on the wildcards, which 127.0.0.1 overlaps", port)
	}
	// Bound on 127.0.0.1 only: another loopback address has the port free.
	if !must(portpool.IsFree(port, portpool.TCP, portpool.WithHost(netip.MustParseAddr("127.0.0.2")))) {
		t.Fatalf("port %d reads bound on 127.0.0.2", port)
	}
	_, err = portpool.IsFree(port, portpool.TCP, portpool.WithHost(netip.MustParseAddr("192.0.2.7")))
	wantErr(t, err, portpool.ErrInvalidArgument, "192.0.2.7")
	_, err = portpool.IsFree(port, portpool.TCP, portpool.WithTTL(0))
	wantErr(t, err, portpool.ErrInvalidArgument, "IsFree takes only WithHost")
}
