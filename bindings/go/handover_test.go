package portpool_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"portpool"
)

func TestHandoverLeasesASecondPortUntilCommit(t *testing.T) {
	reg, _ := open(t)
	current := must(reg.Register("web", 23100, portpool.ModeFlexible))
	next := must(reg.BeginHandover("web", portpool.WithOwner(os.Getpid())))
	if next <= current {
		t.Fatalf("next port %d, want one above %d", next, current)
	}
	// Begun twice: the handover under way is refused, not shared.
	_, err := reg.BeginHandover("web", portpool.WithOwner(os.Getpid()))
	wantErr(t, err, portpool.ErrConflict, "ticket 1")
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
	_, err = reg.CommitHandover("web")
	wantErr(t, err, portpool.ErrNotFound)
}

func TestAbortedHandoverReleasesOnlyTheNextPort(t *testing.T) {
	reg, _ := open(t)
	must(reg.SetPool("tiny", 23200, 23202, portpool.WithProbe(false)))
	first := must(reg.Allocate("w", "tiny"))
	next := must(reg.BeginHandover("w"))
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
	_, err = reg.BeginHandover("ghost")
	wantErr(t, err, portpool.ErrNotFound, "ghost")
	_, err = reg.BeginHandover("w", portpool.WithOwner(-3))
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
	if !reflect.DeepEqual(ports, []int{23400, 23401, 23402}) {
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
	made := must(reg.Migrate(false))
	if !holds(made) {
		t.Fatalf("Migrate = %+v: want port %d", made, bound)
	}
	if !holds(must(reg.List())) {
		t.Fatalf("port %d not leased after Migrate", bound)
	}
	// Ports already leased are left alone. (Servers other programs on this host started in
	// between may be leased now: the check is about the ports leased before.)
	for _, again := range must(reg.Migrate(false)) {
		for _, before := range made {
			if again.Port == before.Port && again.Protocol == before.Protocol {
				t.Fatalf("a second Migrate leased %d/%s again: %+v", again.Port, again.Protocol, again)
			}
		}
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
	next, _ := reg.BeginHandover("web-1") // start the new generation on next...
	now, _ := reg.CommitHandover("web-1") // ...then stop the old one
	fmt.Println(old, next, now)
	// Output: 7600 7601 7601
}

func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func TestASecondSupervisorCannotBeginCommitOrAbortAnothersHandover(t *testing.T) {
	reg, _ := open(t)
	must(reg.SetPool("svc", 23300, 23303, portpool.WithProbe(false)))
	must(reg.Allocate("svc", "svc"))
	a, b := sleeper(t), sleeper(t)
	next := must(reg.BeginHandover("svc", portpool.WithOwner(a.Process.Pid)))
	_, err := reg.BeginHandover("svc", portpool.WithOwner(b.Process.Pid))
	wantErr(t, err, portpool.ErrConflict, "already under way")
	_, err = reg.AbortHandover("svc", portpool.WithOwner(b.Process.Pid))
	wantErr(t, err, portpool.ErrConflict)
	_, err = reg.CommitHandover("svc", portpool.WithOwner(b.Process.Pid))
	wantErr(t, err, portpool.ErrConflict)
	if got := must(reg.CommitHandover("svc", portpool.WithOwner(a.Process.Pid))); got != next {
		t.Fatalf("CommitHandover = %d, want %d", got, next)
	}
	if lease := must(reg.GetLease("svc")); lease.Owner == nil || lease.Owner.PID != a.Process.Pid {
		t.Fatalf("the next generation owns the lease after the commit: %+v", lease)
	}
}

func TestHandoverTakesOnlyTheOwnerOptionAndRefusesFixedLeases(t *testing.T) {
	reg, _ := open(t)
	must(reg.Register("web", freeBlock(t, 1), portpool.ModeFixed))
	_, err := reg.BeginHandover("web")
	wantErr(t, err, portpool.ErrConflict, "fixed")
	must(reg.Register("api", 23410, portpool.ModeFlexible))
	_, err = reg.BeginHandover("api", portpool.WithTTL(time.Minute))
	wantErr(t, err, portpool.ErrInvalidArgument, "BeginHandover takes only WithOwner")
	_, err = reg.Renew("api", portpool.WithOwner(os.Getpid()))
	wantErr(t, err, portpool.ErrInvalidArgument, "Renew takes only WithTTL")
}

func TestNilOptionsAreIgnored(t *testing.T) {
	reg, _ := open(t)
	var lease portpool.LeaseOption
	var pool portpool.PoolOption
	must(reg.SetPool("p", 23500, 23501, pool, portpool.WithProbe(false), nil))
	if port := must(reg.Allocate("a", "p", lease, nil)); port != 23500 {
		t.Fatalf("Allocate = %d", port)
	}
	must(reg.Register("b", 23510, portpool.ModeFlexible, nil))
	must(reg.BeginHandover("a", nil))
}

func TestALeaseEncodesAsCoreDoesAndSurvivesAJSONRoundTrip(t *testing.T) {
	reg, _ := open(t)
	must(reg.Register("web", 23600, portpool.ModeFlexible, portpool.WithProtocol(portpool.UDP), portpool.WithTTL(time.Minute)))
	lease := must(reg.GetLease("web"))
	text, err := json.Marshal(lease)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"name":"web"`, `"protocol":"udp"`, `"mode":"flexible"`, `"pool":null`, `"owner":null`, `"ttl":60`, `"next":null`} {
		if !strings.Contains(string(text), part) {
			t.Fatalf("JSON %s: want %s, as `portpool list --json` writes it", text, part)
		}
	}
	if strings.Contains(string(text), `"stale"`) || strings.Contains(string(text), `"origin"`) {
		t.Fatalf("JSON %s: stale and origin are left out when there are none, as core leaves them out", text)
	}
	var back portpool.Lease
	if err := json.Unmarshal(text, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, lease) {
		t.Fatalf("round trip: %+v, want %+v", back, lease)
	}
	state, _ := json.Marshal(portpool.PortLeased)
	if string(state) != `"leased"` {
		t.Fatalf("PortState JSON %s", state)
	}
}

func TestCheckReturnsPortUnknownWithAnError(t *testing.T) {
	reg, _ := open(t)
	state, holder, err := reg.Check(0, portpool.TCP)
	wantErr(t, err, portpool.ErrInvalidArgument)
	if state != portpool.PortUnknown || holder != nil {
		t.Fatalf("Check with an error = %v, %+v", state, holder)
	}
	var zero portpool.PortState
	if zero != portpool.PortUnknown || zero.String() != "unknown" {
		t.Fatalf("the zero PortState is %v", zero)
	}
}

func TestListMarksStaleLeasesAndDoctorGivesPortAndSeverity(t *testing.T) {
	reg, _ := open(t)
	worker := sleeper(t)
	port := must(reg.Register("w", 23700, portpool.ModeFlexible, portpool.WithOwner(worker.Process.Pid)))
	worker.Process.Kill()
	worker.Wait()
	leases := must(reg.List())
	if len(leases) != 1 || !strings.Contains(leases[0].Stale, "is gone") {
		t.Fatalf("List = %+v", leases)
	}
	_, err := reg.Get("w")
	wantErr(t, err, portpool.ErrNotFound)
	report := must(reg.Doctor())
	var found bool
	for _, f := range report.Findings {
		if f.Kind == portpool.FindingStaleOwner && f.Port == port && f.Protocol == portpool.TCP && f.Severity == portpool.SeverityWarning {
			found = true
		}
	}
	if !found {
		t.Fatalf("Doctor = %+v", report)
	}
}

func TestErrorsNeverEchoAHugeName(t *testing.T) {
	reg, _ := open(t)
	huge := strings.Repeat("n", 1<<20)
	for _, name := range []string{huge, huge + "\x00"} {
		_, err := reg.Get(name)
		if err == nil || len(err.Error()) > 400 {
			t.Fatalf("error of %d bytes", len(fmt.Sprint(err)))
		}
	}
}

func TestRepairNamesWhatItLostAndBringsADamagedRegistryBack(t *testing.T) {
	reg, path := open(t)
	damaged := "{\"version\":2}\n" +
		`{"lease":{"name":"web","port":22950,"protocol":"tcp","mode":"fixed","created":1}}` + "\n" +
		`{"leases":[{"name":"api","port":22950,"protocol":"tcp","mode":"fixed","created":1}]}` + "\n"
	if err := os.WriteFile(path, []byte(damaged), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.List(); !errors.Is(err, portpool.ErrRegistry) || !strings.Contains(err.Error(), "portpool repair") {
		t.Fatalf("List() on a damaged registry = %v: want a registry error naming portpool repair", err)
	}
	report := must(reg.Repair())
	if !report.Repaired || report.Kept != 1 || len(report.Lost) != 1 || len(report.MovedAside) != 1 ||
		!strings.Contains(report.Lost[0], `lease "api" (port 22950)`) {
		t.Fatalf("Repair() = %+v", report)
	}
	if kept, _ := os.ReadFile(report.MovedAside[0]); string(kept) != damaged {
		t.Fatalf("the damaged file was not kept as it was: %q", kept)
	}
	if port := must(reg.Get("web")); port != 22950 {
		t.Fatalf("Get(web) = %d after Repair", port)
	}
}
