package portpool_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portpool"
)

func TestLeaseMakesANewLeaseOwnedByThisProcessThatCloseReleases(t *testing.T) {
	reg, _ := open(t)
	lease := must(reg.Lease("scoped"))
	if lease.Port() < 9000 || lease.Port() > 18999 {
		t.Fatalf("Port() = %d: want a port of the default pool", lease.Port())
	}
	held := must(reg.GetLease("scoped"))
	if held.Port != lease.Port() || held.Owner == nil || held.Owner.PID != os.Getpid() {
		t.Fatalf("the lease is %+v: want port %d owned by this process", held, lease.Port())
	}
	if err := lease.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := reg.Get("scoped")
	wantErr(t, err, portpool.ErrNotFound)
	if err := lease.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func TestLeaseOfANameThatHoldsALeaseIsErrConflictAndChangesNothing(t *testing.T) {
	reg, _ := open(t)
	held := must(reg.Register("web", 23900, portpool.ModeFlexible))
	_, err := reg.Lease("web")
	wantErr(t, err, portpool.ErrConflict, "already holds port")
	if port := must(reg.Get("web")); port != held {
		t.Fatalf("web holds %d after a refused Lease, want %d", port, held)
	}
}

func TestLeaseTakesAPoolOrPortsInAMode(t *testing.T) {
	reg, _ := open(t)
	must(reg.SetPool("mine", 23910, 23911, portpool.WithProbe(false)))
	pooled := must(reg.Lease("pooled", portpool.WithPool("mine")))
	defer pooled.Close()
	if pooled.Port() != 23910 {
		t.Fatalf("WithPool: port %d", pooled.Port())
	}
	free := freeBlock(t, 1)
	fixed := must(reg.Lease("fixed", portpool.WithPort(free), portpool.WithMode(portpool.ModeFixed), portpool.WithProtocol(portpool.UDP)))
	defer fixed.Close()
	if fixed.Port() != free || must(reg.GetLease("fixed")).Protocol != portpool.UDP {
		t.Fatalf("WithPort fixed: port %d, want %d", fixed.Port(), free)
	}
	_, err := reg.Lease("other", portpool.WithPort(free), portpool.WithMode(portpool.ModeFixed), portpool.WithProtocol(portpool.UDP))
	wantErr(t, err, portpool.ErrConflict)
	flexible := must(reg.Lease("flexible", portpool.WithPorts(free), portpool.WithProtocol(portpool.UDP)))
	defer flexible.Close()
	if flexible.Port() <= free {
		t.Fatalf("WithPorts flexible: port %d, want one above the held %d", flexible.Port(), free)
	}
	_, err = reg.Lease("both", portpool.WithPool("mine"), portpool.WithPort(23930))
	wantErr(t, err, portpool.ErrInvalidArgument, "not both")
	_, err = reg.Lease("nul", portpool.WithPool("a\x00b"))
	wantErr(t, err, portpool.ErrInvalidArgument, "pool")
	_, err = reg.Lease("nowhere", portpool.WithPool("no-such-pool"))
	wantErr(t, err, portpool.ErrNotFound)
}

func TestOnlyLeaseTakesTheOptionsThatChooseAPort(t *testing.T) {
	reg, _ := open(t)
	_, err := reg.Register("web", 23940, portpool.ModeFlexible, portpool.WithPool("default"))
	wantErr(t, err, portpool.ErrInvalidArgument, "Register takes only WithProtocol, WithForce, WithOwner, WithTTL, WithRange, WithExclude, WithHost", "WithBindable")
	_, err = reg.Allocate("web", "", portpool.WithPort(23940))
	wantErr(t, err, portpool.ErrInvalidArgument, "Allocate takes only")
	_, err = reg.AllocateMany([]string{"web"}, "", portpool.WithMode(portpool.ModeFixed))
	wantErr(t, err, portpool.ErrInvalidArgument, "AllocateMany takes only")
	if leases := must(reg.List()); len(leases) != 0 {
		t.Fatalf("refused calls leased %+v", leases)
	}
}

func TestClosingALeaseAfterItsRegistryIsErrInvalidArgumentAndKeepsTheLease(t *testing.T) {
	reg, path := open(t)
	lease := must(reg.Lease("kept"))
	reg.Close()
	wantErr(t, lease.Close(), portpool.ErrInvalidArgument, "closed")
	again := must(portpool.Open(path))
	defer again.Close()
	if port := must(again.Get("kept")); port != lease.Port() {
		t.Fatalf("kept holds %d, want %d", port, lease.Port())
	}
}

func TestSetPoolReturnsItsWarningsBesideThePool(t *testing.T) {
	reg, _ := open(t)
	lo, _ := ephemeralRange(t)
	change := must(reg.SetPool("eph", lo, lo+10, portpool.WithProbe(false)))
	if change.Name != "eph" || change.Start != lo || len(change.Warnings) != 1 {
		t.Fatalf("SetPool = %+v: want the pool and one warning", change)
	}
	if want := fmt.Sprintf("%d-%d", lo, lo+10); !strings.Contains(change.Warnings[0], "ephemeral") || !strings.Contains(change.Warnings[0], want) {
		t.Fatalf("warning %q: want it to name the ephemeral range and %s", change.Warnings[0], want)
	}
	if quiet := must(reg.SetPool("low", 7000, 7010)); quiet.Warnings == nil || len(quiet.Warnings) != 0 {
		t.Fatalf("SetPool below the ephemeral range: warnings %#v, want an empty list", quiet.Warnings)
	}
}

// ephemeralRange is the kernel's ephemeral port range.
func ephemeralRange(t *testing.T) (int, int) {
	t.Helper()
	text, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skipf("no ephemeral range to read: %v", err)
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(text), &lo, &hi); err != nil {
		t.Fatal(err)
	}
	return lo, hi
}

func ExampleRegistry_Lease() {
	dir, _ := os.MkdirTemp("", "portpool-example")
	defer os.RemoveAll(dir)
	reg, _ := portpool.Open(filepath.Join(dir, "registry.json"))
	defer reg.Close()
	reg.SetPool("tests", 7700, 7709, portpool.WithProbe(false))
	lease, err := reg.Lease("test-server", portpool.WithPool("tests"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lease.Close() // releases the port when the scope ends
	fmt.Println(lease.Port())
	// Output: 7700
}
