package portpool_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	"portpool"
)

func TestRegisterAnyTakesThePreferredPortsInOrder(t *testing.T) {
	reg, _ := open(t)
	preferred := []int{24210, 24205, 24207}
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
	if got := must(reg.RegisterAny("e", preferred, portpool.ModeFlexible)); got != 24211 {
		t.Fatalf("flexible after the preferred ports got %d, want 24211", got)
	}
}

func TestRegisterFallsBackToTheRangeInOrder(t *testing.T) {
	reg, _ := open(t)
	bound := listen(t)
	if got := must(reg.Register("fixed", bound, portpool.ModeFixed, portpool.WithRange(24220, 24229))); got != 24220 {
		t.Fatalf("a bound fixed port, then the range: got %d, want 24220", got)
	}
	// With a range, flexible mode takes the range's ports next, not the ports above.
	if got := must(reg.Register("flexible", bound, portpool.ModeFlexible, portpool.WithRange(24220, 24229))); got != 24221 {
		t.Fatalf("a bound flexible port, then the range: got %d, want 24221", got)
	}
	if got := must(reg.RegisterAny("range-only", nil, portpool.ModeFixed, portpool.WithRange(24220, 24229))); got != 24222 {
		t.Fatalf("no preferred port, a range: got %d, want 24222", got)
	}
	must(reg.RegisterAny("fill", nil, portpool.ModeFixed, portpool.WithRange(24223, 24223)))
	_, err := reg.RegisterAny("none-left", []int{24220}, portpool.ModeFixed, portpool.WithRange(24221, 24223))
	wantErr(t, err, portpool.ErrExhausted, "24220 or 24221-24223")
	if _, err := reg.Get("none-left"); !errors.Is(err, portpool.ErrNotFound) {
		t.Fatalf("a refused RegisterAny leased something: %v", err)
	}
}

func TestExcludedPortsAreNeverHandedOut(t *testing.T) {
	reg, _ := open(t)
	exclude := portpool.WithExclude(24300, 24301)
	if got := must(reg.Register("flexible", 24300, portpool.ModeFlexible, exclude)); got != 24302 {
		t.Fatalf("Register flexible from an excluded port: %d, want 24302", got)
	}
	_, err := reg.Register("fixed", 24300, portpool.ModeFixed, exclude)
	wantErr(t, err, portpool.ErrConflict, "24300", "excluded")
	if got := must(reg.RegisterAny("ranged", []int{24301}, portpool.ModeFixed, exclude, portpool.WithRange(24300, 24310))); got != 24303 {
		t.Fatalf("RegisterAny past excluded and leased ports: %d, want 24303", got)
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
	lease := must(reg.Lease("scoped", portpool.WithPorts(24330, 24331), portpool.WithExclude(24330)))
	defer lease.Close()
	if lease.Port() != 24331 {
		t.Fatalf("Lease past an excluded port: %d, want 24331", lease.Port())
	}
	found := must(portpool.FindFreeN(3, portpool.WithRange(24340, 24349), portpool.WithExclude(24340, 24342, 24344)))
	for _, port := range found {
		if port == 24340 || port == 24342 || port == 24344 {
			t.Fatalf("FindFreeN returned excluded port %d in %v", port, found)
		}
	}
	for _, held := range must(reg.List()) {
		if slices.Contains([]int{24300, 24301, 24320, 24330}, held.Port) {
			t.Fatalf("a port every call excluded was leased: %+v", held)
		}
	}
}

func TestFindFreeTriesThePreferredPortsThenTheRange(t *testing.T) {
	bound := listen(t)
	if got := must(portpool.FindFree(portpool.WithPorts(bound, 24400), portpool.WithRange(24410, 24419))); got != 24400 {
		t.Fatalf("FindFree past a bound preferred port: %d, want 24400", got)
	}
	if got := must(portpool.FindFree(portpool.WithPorts(bound), portpool.WithRange(24410, 24419))); got != 24410 {
		t.Fatalf("FindFree past the preferred ports into the range: %d, want 24410", got)
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
	ranged := must(portpool.FindFreeN(3, portpool.WithPorts(24452, 24452), portpool.WithRange(24450, 24459)))
	if !slices.Equal(ranged, []int{24452, 24450, 24451}) {
		t.Fatalf("FindFreeN(3) with a preferred port and a range: %v, want [24452 24450 24451]", ranged)
	}
	_, err := portpool.FindFreeN(4, portpool.WithRange(24460, 24462))
	wantErr(t, err, portpool.ErrExhausted, "3", "4")
}

func TestWithHostChecksOnlyThatAddress(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := (l.Addr().(*net.TCPAddr).Port)
	if got := must(portpool.FindFree(portpool.WithPorts(port), portpool.WithRange(24500, 24509))); got == port {
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
