package portpool_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"portpool"
)

func TestHandoverLeasesASecondPortUntilCommit(t *testing.T) {
	reg, _ := open(t)
	current := must(reg.Register("web", 23100, portpool.ModeFlexible))
	next := must(reg.BeginHandover("web", os.Getpid()))
	if next <= current {
		t.Fatalf("next port %d, want one above %d", next, current)
	}
	if again := must(reg.BeginHandover("web", 0)); again != next {
		t.Fatalf("begun twice: %d then %d", next, again)
	}
	if got := must(reg.Get("web")); got != current {
		t.Fatalf("Get during the handover = %d, want the current %d", got, current)
	}
	lease := must(reg.GetLease("web"))
	if lease.Next == nil || lease.Next.Port != next || lease.Next.Owner == nil || lease.Next.Owner.PID != os.Getpid() {
		t.Fatalf("lease.Next = %+v", lease.Next)
	}
	if state, holder, err := reg.Check(next, portpool.TCP); err != nil || state != portpool.PortLeased || holder.Name != "web" {
		t.Fatalf("Check(next) = %v, %+v, %v", state, holder, err)
	}
	if committed := must(reg.CommitHandover("web")); committed != next {
		t.Fatalf("CommitHandover = %d, want %d", committed, next)
	}
	if got := must(reg.Get("web")); got != next {
		t.Fatalf("Get after the commit = %d, want %d", got, next)
	}
	if lease := must(reg.GetLease("web")); lease.Next != nil || lease.Owner == nil || lease.Owner.PID != os.Getpid() {
		t.Fatalf("lease after the commit = %+v", lease)
	}
	_, err := reg.CommitHandover("web")
	wantErr(t, err, portpool.ErrNotFound)
}

func TestAbortedHandoverReleasesOnlyTheNextPort(t *testing.T) {
	reg, _ := open(t)
	must(reg.SetPool("tiny", 23200, 23202, portpool.WithProbe(false)))
	first := must(reg.Allocate("w", "tiny"))
	next := must(reg.BeginHandover("w", 0))
	if next < 23200 || next > 23202 || next == first {
		t.Fatalf("next port %d: want another port of the pool", next)
	}
	if dropped := must(reg.AbortHandover("w")); dropped != next {
		t.Fatalf("AbortHandover = %d, want %d", dropped, next)
	}
	if lease := must(reg.GetLease("w")); lease.Port != first || lease.Next != nil {
		t.Fatalf("lease after the abort = %+v", lease)
	}
	_, err := reg.AbortHandover("w")
	wantErr(t, err, portpool.ErrNotFound)
	_, err = reg.BeginHandover("ghost", 0)
	wantErr(t, err, portpool.ErrNotFound, "ghost")
	_, err = reg.BeginHandover("w", -3)
	wantErr(t, err, portpool.ErrInvalidArgument, "-3")
}

func TestAllocateManyIsAllOrNothing(t *testing.T) {
	reg, _ := open(t)
	must(reg.SetPool("pair", 23400, 23401, portpool.WithProbe(false)))
	_, err := reg.AllocateMany([]string{"w1", "w2", "w3"}, "pair")
	wantErr(t, err, portpool.ErrExhausted, "pair")
	if leases := must(reg.List()); len(leases) != 0 {
		t.Fatalf("a refused batch leased %+v", leases)
	}
	must(reg.SetPool("pair", 23400, 23402))
	ports := must(reg.AllocateMany([]string{"w1", "w2", "w3"}, "pair", portpool.WithOwner(os.Getpid())))
	if !reflect.DeepEqual(ports, []uint16{23400, 23401, 23402}) {
		t.Fatalf("AllocateMany = %v", ports)
	}
	_, err = reg.AllocateMany([]string{"x", "x"}, "")
	wantErr(t, err, portpool.ErrInvalidArgument, "twice")
	_, err = reg.AllocateMany([]string{"x", "bad\x00name"}, "")
	wantErr(t, err, portpool.ErrInvalidArgument, "NUL")
	if none := must(reg.AllocateMany(nil, "")); len(none) != 0 {
		t.Fatalf("AllocateMany(nil) = %v", none)
	}
}

func TestSetOwnerTiesALeaseToAProcess(t *testing.T) {
	reg, _ := open(t)
	must(reg.Register("w", 23500, portpool.ModeFlexible))
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lease := must(reg.SetOwner("w", child.Process.Pid))
	if lease.Owner == nil || lease.Owner.PID != child.Process.Pid {
		t.Fatalf("SetOwner returned %+v", lease)
	}
	child.Process.Kill()
	child.Wait()
	if reclaimed := must(reg.GC()); len(reclaimed) != 1 || reclaimed[0].Lease.Name != "w" {
		t.Fatalf("GC() = %+v", reclaimed)
	}
	must(reg.Register("w", 23500, portpool.ModeFlexible))
	if lease := must(reg.SetOwner("w", 0)); lease.Owner != nil {
		t.Fatalf("SetOwner(0) left owner %+v", lease.Owner)
	}
	_, err := reg.SetOwner("ghost", 0)
	wantErr(t, err, portpool.ErrNotFound)
}

func TestWhoNamesTheLeaseAndTheListeningProcess(t *testing.T) {
	reg, _ := open(t)
	bound := listen(t)
	must(reg.Register("web", bound, portpool.ModeFixed, portpool.WithForce()))
	who := must(reg.Who(bound))
	if who.Port != bound || len(who.Leases) != 1 || who.Leases[0].Name != "web" {
		t.Fatalf("Who(%d) = %+v", bound, who)
	}
	if who.Unavailable != "" {
		t.Skipf("sockets cannot be read here: %s", who.Unavailable)
	}
	found := false
	for _, s := range who.Sockets {
		for _, p := range s.Processes {
			found = found || (p.PID == os.Getpid() && s.Protocol == portpool.TCP)
		}
	}
	if !found {
		t.Fatalf("Who(%d).Sockets = %+v: want this process (%d)", bound, who.Sockets, os.Getpid())
	}
	_, err := reg.Who(0)
	wantErr(t, err, portpool.ErrInvalidArgument)
}

func TestMigrateLeasesPortsThatServersHoldAndDryRunWritesNothing(t *testing.T) {
	reg, _ := open(t)
	bound := listen(t)
	holds := func(leases []portpool.Lease) bool {
		for _, l := range leases {
			if l.Port == bound && l.Protocol == portpool.TCP && l.Mode == portpool.ModeFixed {
				return true
			}
		}
		return false
	}
	if plan := must(reg.Migrate(true)); !holds(plan) {
		t.Fatalf("Migrate(dry run) = %+v: want port %d", plan, bound)
	}
	if leases := must(reg.List()); len(leases) != 0 {
		t.Fatalf("a dry run wrote %+v", leases)
	}
	if made := must(reg.Migrate(false)); !holds(made) {
		t.Fatalf("Migrate = %+v: want port %d", made, bound)
	}
	if !holds(must(reg.List())) {
		t.Fatalf("port %d not leased after Migrate", bound)
	}
	if again := must(reg.Migrate(false)); len(again) != 0 {
		t.Fatalf("a second Migrate made %+v", again)
	}
}

func TestImportReadsAFlatNameToPortMapAllOrNothing(t *testing.T) {
	reg, _ := open(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"keycloak": 23600, "web": "23601"}`), 0o644)
	os.WriteFile(bad, []byte(`{"x": 23602, "y": 70000}`), 0o644)
	report := must(reg.Import(good))
	if len(report.Imported) != 2 || report.Imported[1].Name != "web" || report.Imported[1].Port != 23601 || len(report.Skipped) != 0 {
		t.Fatalf("Import = %+v", report)
	}
	if again := must(reg.Import(good)); len(again.Imported) != 0 || !reflect.DeepEqual(again.Skipped, []string{"keycloak", "web"}) {
		t.Fatalf("second Import = %+v", again)
	}
	_, err := reg.Import(bad)
	wantErr(t, err, portpool.ErrInvalidArgument, "70000")
	if _, err := reg.Get("x"); !errors.Is(err, portpool.ErrNotFound) {
		t.Fatalf("a refused file leased x (%v)", err)
	}
	_, err = reg.Import(filepath.Join(dir, "missing.json"))
	wantErr(t, err, portpool.ErrNotFound)
}

func TestDoctorReportsALeaseNothingListensOn(t *testing.T) {
	reg, _ := open(t)
	must(reg.Register("idle", 23700, portpool.ModeFlexible))
	report := must(reg.Doctor())
	if report.Unavailable != "" {
		t.Skipf("sockets cannot be read here: %s", report.Unavailable)
	}
	want := portpool.Finding{Kind: portpool.FindingNotListening, Subject: "idle"}
	for _, f := range report.Findings {
		if f.Kind == want.Kind && f.Subject == want.Subject && f.Message != "" {
			return
		}
	}
	t.Fatalf("Doctor() = %+v: want a %s finding about idle", report, want.Kind)
}

func ExampleRegistry_BeginHandover() {
	dir, _ := os.MkdirTemp("", "portpool-example")
	defer os.RemoveAll(dir)
	reg, _ := portpool.Open(filepath.Join(dir, "registry.json"))
	defer reg.Close()
	reg.SetPool("web", 7600, 7609, portpool.WithProbe(false))
	old, _ := reg.Allocate("web-1", "web")
	next, _ := reg.BeginHandover("web-1", 0) // start the new generation on next...
	now, _ := reg.CommitHandover("web-1")    // ...then stop the old one
	fmt.Println(old, next, now)
	// Output: 7600 7601 7601
}
