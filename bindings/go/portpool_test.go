package portpool_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"portpool"
)

// open returns a Registry on a fresh file of its own, closed when the test ends.
func open(t *testing.T) (*portpool.Registry, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registry.json")
	reg, err := portpool.Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg, path
}

// must returns value, or stops the test run with err: for calls that only set a test up.
func must[T any](value T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return value
}

// wantErr checks that err wraps kind and that its message contains every one of parts.
func wantErr(t *testing.T, err, kind error, parts ...string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v: want one that wraps %v", err, kind)
	}
	var pe *portpool.Error
	if !errors.As(err, &pe) || pe.Kind != kind {
		t.Fatalf("error %#v: want a *portpool.Error of kind %v", err, kind)
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Fatalf("error %q: want it to mention %q", err, part)
		}
	}
}

// listen holds a TCP port on every IPv4 address until the test ends.
func listen(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return (l.Addr().(*net.TCPAddr).Port)
}

// freeBlock returns the first of n consecutive ports that are each free now for TCP and UDP,
// for a test whose outcome needs ports nothing on the host holds. Each try starts at random in
// 25000-31999, above the fixed ports tests give where the host does not matter and below
// Linux's usual ephemeral range; after 200 tries the test stops.
func freeBlock(t *testing.T, n int) int {
	t.Helper()
	const lo, hi = 25000, 32000
	for range 200 {
		start := lo + rand.IntN(hi-lo-n)
		free := 0
		for free < n && bindable(start+free) {
			free++
		}
		if free == n {
			return start
		}
	}
	t.Fatalf("no %d consecutive ports free for TCP and UDP in 200 tries in %d-%d", n, lo, hi-1)
	return 0
}

// bindable says whether port can be bound now for TCP and for UDP on the wildcard address,
// which on Linux overlaps a socket bound to any address of either family.
func bindable(port int) bool {
	addr := fmt.Sprintf(":%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestVersionIsTheWorkspaceVersionAndTheABIMatches(t *testing.T) {
	cargo, err := os.ReadFile("../../Cargo.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version = "(.*)"`).FindSubmatch(cargo)
	if m == nil || portpool.Version() != string(m[1]) {
		t.Fatalf("Version() = %q, Cargo.toml has %q", portpool.Version(), m)
	}
	if portpool.LibraryABIVersion() != portpool.ABIVersion {
		t.Fatalf("library ABI %d, package ABI %d", portpool.LibraryABIVersion(), portpool.ABIVersion)
	}
}

func TestOpenEmptyPathUsesPortpoolRegistryFromTheEnvironment(t *testing.T) {
	want := filepath.Join(t.TempDir(), "env.json")
	t.Setenv("PORTPOOL_REGISTRY", want)
	reg := must(portpool.Open(""))
	defer reg.Close()
	if got := must(reg.Path()); got != want {
		t.Fatalf("Path() = %q, want %q", got, want)
	}
	must(reg.Register("web", 20000, portpool.ModeFlexible))
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("registry not written at %s: %v", want, err)
	}
}

func TestFlexibleRegisterSkipsPortsLeasedToOthers(t *testing.T) {
	reg, _ := open(t)
	a := must(reg.Register("a", 21000, portpool.ModeFlexible))
	b := must(reg.Register("b", a, portpool.ModeFlexible))
	if b <= a {
		t.Fatalf("b got %d, want a port above a's %d", b, a)
	}
	if again := must(reg.Register("a", 30000, portpool.ModeFlexible)); again != a {
		t.Fatalf("a registered again got %d, want its port %d back", again, a)
	}
	if got := must(reg.Get("b")); got != b {
		t.Fatalf("Get(b) = %d, want %d", got, b)
	}
}

func TestFixedRegisterOfALeasedPortIsErrConflictNamingTheHolder(t *testing.T) {
	reg, _ := open(t)
	port := must(reg.Register("holder", 21100, portpool.ModeFlexible))
	_, err := reg.Register("thief", port, portpool.ModeFixed)
	wantErr(t, err, portpool.ErrConflict, "holder", strconv.Itoa(int(port)))
	if errors.Is(err, portpool.ErrNotFound) {
		t.Fatal("a conflict must not match ErrNotFound")
	}
}

func TestFixedRegisterOfABoundPortNeedsForce(t *testing.T) {
	reg, _ := open(t)
	bound := listen(t)
	_, err := reg.Register("web", bound, portpool.ModeFixed)
	wantErr(t, err, portpool.ErrConflict, "outside the registry")
	if got := must(reg.Register("web", bound, portpool.ModeFixed, portpool.WithForce())); got != bound {
		t.Fatalf("forced register got %d, want %d", got, bound)
	}
}

func TestInvalidArgumentsAreErrInvalidArgumentAndWriteNothing(t *testing.T) {
	reg, path := open(t)
	cases := []struct {
		name string
		call func() error
		says string
	}{
		{"port 0", func() error { _, err := reg.Register("web", 0, portpool.ModeFixed); return err }, "1-65535"},
		{"space in name", func() error { _, err := reg.Register("a b", 80, portpool.ModeFixed); return err }, "whitespace"},
		{"empty name", func() error { _, err := reg.Register("", 80, portpool.ModeFixed); return err }, "empty"},
		{"NUL in name", func() error { _, err := reg.Register("a\x00b", 80, portpool.ModeFixed); return err }, "NUL"},
		{"unknown mode", func() error { _, err := reg.Register("web", 80, portpool.Mode(9)); return err }, "invalid mode 9"},
		{"pool mode", func() error { _, err := reg.Register("web", 80, portpool.ModePool); return err }, "pool"},
		{"unknown protocol", func() error {
			_, err := reg.Register("web", 80, portpool.ModeFixed, portpool.WithProtocol(portpool.Protocol(5)))
			return err
		}, "invalid protocol 5"},
		{"negative pid", func() error {
			_, err := reg.Allocate("web", "", portpool.WithOwner(-1))
			return err
		}, "invalid pid -1"},
		{"dead pid", func() error {
			_, err := reg.Allocate("web", "", portpool.WithOwner(2147483646))
			return err
		}, "2147483646"},
		{"negative ttl", func() error {
			_, err := reg.Allocate("web", "", portpool.WithTTL(-time.Millisecond))
			return err
		}, "invalid ttl -1"},
		{"ttl over 100 years", func() error {
			_, err := reg.Allocate("web", "", portpool.WithTTL(101*365*24*time.Hour))
			return err
		}, "100 years"},
		{"reversed pool", func() error { _, err := reg.SetPool("p", 7100, 7000); return err }, "start is after end"},
		{"bad pool name", func() error { _, err := reg.Allocate("web", "a pool"); return err }, "pool"},
		{"check port 0", func() error { _, _, err := reg.Check(0, portpool.TCP); return err }, "1-65535"},
		{"negative renew", func() error { _, err := reg.Renew("web", portpool.WithTTL(-time.Second)); return err }, "ttl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.call(), portpool.ErrInvalidArgument, c.says)
		})
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a rejected call wrote the registry (stat: %v)", err)
	}
}

func TestZeroOwnerAndZeroTTLMeanNone(t *testing.T) {
	reg, _ := open(t)
	must(reg.Allocate("plain", "", portpool.WithOwner(0), portpool.WithTTL(0)))
	lease := must(reg.GetLease("plain"))
	if lease.Owner != nil || lease.TTL != 0 || !lease.Expires.IsZero() {
		t.Fatalf("WithOwner(0) and WithTTL(0) recorded %+v", lease)
	}
}

func TestGetOfAnUnknownNameIsErrNotFound(t *testing.T) {
	reg, _ := open(t)
	_, err := reg.Get("ghost")
	wantErr(t, err, portpool.ErrNotFound, `no lease named "ghost"`)
	_, err = reg.GetLease("ghost")
	wantErr(t, err, portpool.ErrNotFound, "ghost")
}

func TestAllocateHandsOutEachPoolPortOnceThenIsExhausted(t *testing.T) {
	reg, _ := open(t)
	pool := must(reg.SetPool("tiny", 22000, 22002, portpool.WithProbe(false))).Pool
	if pool.UID == nil || *pool.UID != uint32(os.Geteuid()) {
		t.Fatalf("SetPool recorded creator %v, want uid %d", pool.UID, os.Geteuid())
	}
	pool.UID = nil
	if pool != (portpool.Pool{Name: "tiny", Start: 22000, End: 22002, Cursor: 22000, Probe: false}) {
		t.Fatalf("SetPool returned %+v", pool)
	}
	for i, want := range []int{22000, 22001, 22002} {
		if got := must(reg.Allocate(fmt.Sprintf("w%d", i), "tiny")); got != want {
			t.Fatalf("allocation %d got %d, want %d", i, got, want)
		}
	}
	_, err := reg.Allocate("w3", "tiny")
	wantErr(t, err, portpool.ErrExhausted, "tiny")
	_, err = reg.Allocate("w3", "nosuch")
	wantErr(t, err, portpool.ErrNotFound, "nosuch")
}

func TestAllocateWithAnEmptyPoolUsesTheDefaultPool(t *testing.T) {
	reg, _ := open(t)
	port := must(reg.Allocate("w", "", portpool.WithProtocol(portpool.UDP)))
	if port < 9000 || port > 18999 {
		t.Fatalf("got %d, want a port of the default pool 9000-18999", port)
	}
	lease := must(reg.GetLease("w"))
	if lease.Pool != "default" || lease.Mode != portpool.ModePool || lease.Protocol != portpool.UDP {
		t.Fatalf("lease %+v", lease)
	}
}

func TestReleaseReportsWhetherThereWasALease(t *testing.T) {
	reg, _ := open(t)
	must(reg.Register("web", 22100, portpool.ModeFlexible))
	if !must(reg.Release("web")) {
		t.Fatal("first Release said there was no lease")
	}
	if must(reg.Release("web")) {
		t.Fatal("second Release said there was a lease")
	}
}

func TestListReturnsEveryFieldOfEveryLeaseSortedByName(t *testing.T) {
	reg, _ := open(t)
	before := time.Now().Add(-time.Second)
	zetaPort := freeBlock(t, 2)
	alphaPort := zetaPort + 1
	must(reg.Register("zeta", zetaPort, portpool.ModeFixed))
	must(reg.Register("alpha", alphaPort, portpool.ModeFlexible,
		portpool.WithProtocol(portpool.UDP), portpool.WithOwner(os.Getpid()), portpool.WithTTL(90*time.Second)))
	leases := must(reg.List())
	if len(leases) != 2 || leases[0].Name != "alpha" || leases[1].Name != "zeta" {
		t.Fatalf("List() = %+v", leases)
	}
	alpha, zeta := leases[0], leases[1]
	if alpha.Port != alphaPort || alpha.Protocol != portpool.UDP || alpha.Mode != portpool.ModeFlexible {
		t.Fatalf("alpha = %+v", alpha)
	}
	if alpha.Owner == nil || alpha.Owner.PID != os.Getpid() || alpha.Owner.StartTime == 0 {
		t.Fatalf("alpha.Owner = %+v", alpha.Owner)
	}
	// The expiry is rounded up to the next whole second: a lease never ends early.
	if lived := alpha.Expires.Sub(alpha.Created); alpha.TTL != 90*time.Second || lived < 90*time.Second || lived > 91*time.Second {
		t.Fatalf("alpha TTL %v, created %v, expires %v", alpha.TTL, alpha.Created, alpha.Expires)
	}
	if alpha.Created.Before(before) {
		t.Fatalf("alpha.Created = %v, before the test began", alpha.Created)
	}
	if zeta.Mode != portpool.ModeFixed || zeta.Owner != nil || zeta.TTL != 0 || !zeta.Expires.IsZero() || zeta.Pool != "" {
		t.Fatalf("zeta = %+v", zeta)
	}
}

func TestPoolsAlwaysHoldTheDefaultPoolAndSetPoolKeepsProbe(t *testing.T) {
	reg, _ := open(t)
	pools := must(reg.Pools())
	if len(pools) != 1 || pools[0] != (portpool.Pool{Name: "default", Start: 9000, End: 18999, Cursor: 9000, Probe: true}) {
		t.Fatalf("Pools() = %+v", pools)
	}
	must(reg.SetPool("web", 7000, 7099, portpool.WithProbe(false)))
	widened := must(reg.SetPool("web", 7000, 7199))
	if widened.End != 7199 || widened.Probe {
		t.Fatalf("widened pool %+v: want end 7199 and probing still off", widened)
	}
	if pools := must(reg.Pools()); len(pools) != 2 || pools[1].Name != "web" {
		t.Fatalf("Pools() = %+v", pools)
	}
}

func TestCheckTellsFreeLeasedAndBusyPortsApart(t *testing.T) {
	reg, _ := open(t)
	free := must(portpool.FindFree())
	state, holder, err := reg.Check(free, portpool.TCP)
	if err != nil || state != portpool.PortFree || holder != nil {
		t.Fatalf("Check(free) = %v, %v, %v", state, holder, err)
	}
	must(reg.Register("web", free, portpool.ModeFixed))
	state, holder, err = reg.Check(free, portpool.TCP)
	if err != nil || state != portpool.PortLeased || holder == nil || holder.Name != "web" {
		t.Fatalf("Check(leased) = %v, %+v, %v", state, holder, err)
	}
	bound := listen(t)
	state, _, err = reg.Check(bound, portpool.TCP)
	if err != nil || state != portpool.PortBusy {
		t.Fatalf("Check(bound) = %v, %v", state, err)
	}
}

func TestGCReclaimsTheLeaseOfAnExitedOwner(t *testing.T) {
	reg, _ := open(t)
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pid := child.Process.Pid
	must(reg.Register("worker", 22400, portpool.ModeFlexible, portpool.WithOwner(pid)))
	must(reg.Register("permanent", 22500, portpool.ModeFlexible))
	if reclaimed := must(reg.GC()); len(reclaimed) != 0 {
		t.Fatalf("GC with a live owner reclaimed %+v", reclaimed)
	}
	child.Process.Kill()
	child.Wait()
	reclaimed := must(reg.GC())
	if len(reclaimed) != 1 || reclaimed[0].Lease.Name != "worker" ||
		reclaimed[0].Reason != fmt.Sprintf("owner pid %d is gone", pid) {
		t.Fatalf("GC() = %+v", reclaimed)
	}
	_, err := reg.Get("worker")
	wantErr(t, err, portpool.ErrNotFound)
}

func TestRenewRestartsTheTimeToLive(t *testing.T) {
	reg, _ := open(t)
	must(reg.Register("beat", 22600, portpool.ModeFlexible, portpool.WithTTL(1500*time.Millisecond)))
	if lease := must(reg.GetLease("beat")); lease.TTL != 2*time.Second {
		t.Fatalf("a 1.5 s ttl should round up to 2 s, got %v", lease.TTL)
	}
	if lease := must(reg.Renew("beat")); lease.TTL != 2*time.Second {
		t.Fatalf("Renew(0) kept ttl %v, want 2s", lease.TTL)
	}
	if lease := must(reg.Renew("beat", portpool.WithTTL(time.Minute))); lease.TTL != time.Minute {
		t.Fatalf("Renew(1m) gave ttl %v", lease.TTL)
	}
	must(reg.Register("forever", 22700, portpool.ModeFlexible))
	_, err := reg.Renew("forever")
	wantErr(t, err, portpool.ErrInvalidArgument, "no time to live")
	_, err = reg.Renew("ghost", portpool.WithTTL(time.Second))
	wantErr(t, err, portpool.ErrNotFound)
}

func TestResetEmptiesTheRegistry(t *testing.T) {
	reg, _ := open(t)
	must(reg.Register("web", 22800, portpool.ModeFlexible))
	must(reg.SetPool("extra", 7000, 7001))
	if err := reg.Reset(); err != nil {
		t.Fatal(err)
	}
	if leases := must(reg.List()); len(leases) != 0 {
		t.Fatalf("List() after Reset = %+v", leases)
	}
	if pools := must(reg.Pools()); len(pools) != 1 {
		t.Fatalf("Pools() after Reset = %+v", pools)
	}
}

func TestIsFreeSeesABoundSocket(t *testing.T) {
	bound := listen(t)
	if must(portpool.IsFree(bound, portpool.TCP)) {
		t.Fatalf("IsFree(%d) = true while it is bound", bound)
	}
	free := must(portpool.FindFree(portpool.WithProtocol(portpool.UDP)))
	if !must(portpool.IsFree(free, portpool.UDP)) {
		t.Fatalf("IsFree(%d/udp) = false for a port FindFree just gave", free)
	}
	_, err := portpool.IsFree(0, portpool.TCP)
	wantErr(t, err, portpool.ErrInvalidArgument)
	_, err = portpool.FindFree(portpool.WithProtocol(portpool.Protocol(7)))
	wantErr(t, err, portpool.ErrInvalidArgument)
}

func TestACorruptRegistryIsErrRegistryAndIsLeftUntouched(t *testing.T) {
	reg, path := open(t)
	if err := os.WriteFile(path, []byte(`{"a":}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := reg.Register("web", 22900, portpool.ModeFlexible)
	wantErr(t, err, portpool.ErrRegistry, path)
	if text, _ := os.ReadFile(path); string(text) != `{"a":}` {
		t.Fatalf("the corrupt file was changed to %q", text)
	}
}

func TestARegistryUnderARegularFileIsErrIO(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	reg := must(portpool.Open(filepath.Join(file, "registry.json")))
	defer reg.Close()
	_, err := reg.Register("web", 23000, portpool.ModeFlexible)
	wantErr(t, err, portpool.ErrIO, "not-a-dir")
}

func TestAClosedRegistryIsErrInvalidArgumentAndClosingTwiceIsFine(t *testing.T) {
	reg, _ := open(t)
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := reg.Get("web")
	wantErr(t, err, portpool.ErrInvalidArgument, "closed")
}

func TestGoroutinesSharingOneRegistryNeverGetOnePortTwice(t *testing.T) {
	reg, _ := open(t)
	must(reg.SetPool("shared", 24000, 24999, portpool.WithProbe(false)))
	const goroutines, each = 16, 8
	ports := make([][]int, goroutines)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				port, err := reg.Allocate(fmt.Sprintf("g%d-w%d", g, i), "shared")
				if err != nil {
					errs <- err
					return
				}
				ports[g] = append(ports[g], port)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, list := range ports {
		for _, port := range list {
			if seen[port] {
				t.Fatalf("port %d handed out twice", port)
			}
			seen[port] = true
		}
	}
	if leases := must(reg.List()); len(seen) != goroutines*each || len(leases) != goroutines*each {
		t.Fatalf("%d distinct ports, %d leases; want %d", len(seen), len(leases), goroutines*each)
	}
}

func TestEachGoroutineGetsTheMessageOfItsOwnFailure(t *testing.T) {
	reg, _ := open(t)
	var wg sync.WaitGroup
	wrong := make(chan string, 64)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := fmt.Sprintf("ghost-%d-%d", g, i)
				_, err := reg.Get(name)
				if !errors.Is(err, portpool.ErrNotFound) || !strings.Contains(err.Error(), `"`+name+`"`) {
					wrong <- fmt.Sprintf("Get(%s): %v", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(wrong)
	for msg := range wrong {
		t.Error(msg)
	}
}

// The registry is one file for every language: what Go writes the portpool command reads,
// and the other way round.
func TestTheRegistryIsSharedWithTheCommandLine(t *testing.T) {
	cli := os.Getenv("PORTPOOL_CLI")
	if cli == "" {
		t.Skip("PORTPOOL_CLI is not set (make -C bindings/go test sets it)")
	}
	reg, path := open(t)
	port := must(reg.Register("from-go", 25000, portpool.ModeFlexible))
	out, err := exec.Command(cli, "--registry", path, "get", "from-go").Output()
	if err != nil {
		t.Fatalf("portpool get: %v", err)
	}
	if strings.TrimSpace(string(out)) != strconv.Itoa(int(port)) {
		t.Fatalf("portpool get printed %q, want %d", out, port)
	}
	out, err = exec.Command(cli, "--registry", path, "register", "from-cli", strconv.Itoa(int(port)), "flexible").Output()
	if err != nil {
		t.Fatalf("portpool register: %v", err)
	}
	cliPort := must(reg.Get("from-cli"))
	if strings.TrimSpace(string(out)) != strconv.Itoa(int(cliPort)) || cliPort == port {
		t.Fatalf("portpool register printed %q; Go sees %d; Go's own port is %d", out, cliPort, port)
	}
}

func TestALockHeldPastTheLockTimeoutIsErrBusyAndReadsGoOn(t *testing.T) {
	reg, path := open(t)
	port := must(reg.Register("web", 23010, portpool.ModeFlexible))
	lock := must(os.Open(path + ".lock"))
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetLockTimeout(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	_, err := reg.Release("web")
	wantErr(t, err, portpool.ErrBusy, fmt.Sprintf("pid %d", os.Getpid()))
	if got := must(reg.Get("web")); got != port {
		t.Fatalf("Get = %d while the lock is held, want %d: reads take no lock", got, port)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if released := must(reg.Release("web")); !released {
		t.Fatal("Release after the lock was freed released nothing")
	}
	wantErr(t, reg.SetLockTimeout(-time.Second), portpool.ErrInvalidArgument)
}

// A lease another user made (uid 4242 here) is released only by root or with SetForce: for
// anyone else, Release is ErrConflict naming that user.
func TestReleaseOfAnotherUsersLeaseIsAConflictUnlessRootOrForced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.json")
	lease := `{"lease":{"name":"theirs","port":1,"protocol":"tcp","mode":"fixed","pool":null,"created":1,"uid":4242}}`
	if err := os.WriteFile(path, []byte("{\"version\":2}\n"+lease+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := must(portpool.Open(path))
	defer reg.Close()
	if os.Geteuid() != 0 {
		_, err := reg.Release("theirs")
		wantErr(t, err, portpool.ErrConflict, "uid 4242")
		if err := reg.SetForce(true); err != nil {
			t.Fatal(err)
		}
	}
	if released := must(reg.Release("theirs")); !released {
		t.Fatal("Release by root or with SetForce released nothing")
	}
	reg.Close()
	wantErr(t, reg.SetForce(true), portpool.ErrInvalidArgument)
}
