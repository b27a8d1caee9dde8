package portpool_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"portpool"
)

// The package's tests decode libportpool's JSON strictly and write each value back
// (export_test.go): a field core writes that Go lacks, or the other way round, fails the call
// that meets it. This test makes every call that returns JSON meet every field of every type
// with a value other than the zero one, so that no field escapes that check.
func TestEveryTypeReadsAndWritesCoresJSONExactly(t *testing.T) {
	reg, dir := open(t)
	seen := fieldsSeen{}
	idle := freeBlock(t, 2) // idle-udp's port (later TCP), then the port an import brings in
	bound := holdEveryKindOfLease(t, reg, seen, idle)

	seen.walk(must(reg.List()))
	blue := must(portpool.Open(must(reg.Path()), portpool.WithNamespace("blue")))
	defer blue.Close()
	must(blue.Allocate("w", "p"))
	seen.walk(must(blue.ListAllNamespaces()))
	seen.walk(must(reg.Pools()))
	seen.walk(must(reg.GetLease("pooled")))
	who := must(reg.Who(bound))
	if who.Unavailable != "" {
		t.Skipf("sockets cannot be read here: %s", who.Unavailable)
	}
	seen.walk(who)
	seen.walk(must(reg.Doctor()))
	listen(t) // a server Migrate leases, recording it as the lease's origin
	seen.walk(must(reg.Migrate(true)))
	seen.walk(must(reg.Migrate(false)))
	_, holder, err := reg.Check(idle, portpool.UDP)
	if err != nil || holder == nil {
		t.Fatalf("Check = %v, %v", holder, err)
	}
	seen.walk(holder)
	seen.walk(must(reg.GC()))
	file := filepath.Join(filepath.Dir(dir), "ports.json")
	os.WriteFile(file, []byte(fmt.Sprintf(`{"idle-udp": %d, "imported": %d}`, idle, idle+1)), 0o644)
	must(reg.Release("idle-udp"))
	must(reg.Register("idle-udp", idle, portpool.ModeFixed))
	seen.walk(must(reg.Import(file)))
	os.WriteFile(file, []byte(fmt.Sprintf(`{"imported": %d}`, idle+1)), 0o644)
	seen.walk(must(reg.Import(file)))

	everyFieldWasSeen(t, seen)
}

// fieldsSeen records which fields of the package's types held a value other than zero.
type fieldsSeen map[string]bool

func (s fieldsSeen) walk(value any) { s.value(reflect.ValueOf(value)) }

func (s fieldsSeen) value(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			s.value(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			s.value(v.Index(i))
		}
	case reflect.Struct:
		if v.Type().PkgPath() != "portpool" {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Field(i).IsZero() {
				s[v.Type().Name()+"."+v.Type().Field(i).Name] = true
			}
			s.value(v.Field(i))
		}
	}
}

// holdEveryKindOfLease fills reg with a lease of each kind (pooled and handed over, of a gone
// owner, UDP on port idle, served by a bound socket) and a pool over the kernel's ephemeral
// range, and returns the port of the bound socket.
func holdEveryKindOfLease(t *testing.T, reg *portpool.Registry, seen fieldsSeen, idle int) int {
	must(reg.SetPool("p", 23800, 23809, portpool.WithProbe(false)))
	must(reg.Allocate("pooled", "p", portpool.WithOwner(os.Getpid()), portpool.WithTTL(time.Minute)))
	next := sleeper(t)
	must(reg.BeginHandover("pooled", portpool.WithOwner(next.Process.Pid)))
	gone := sleeper(t)
	must(reg.Register("gone", 23820, portpool.ModeFlexible, portpool.WithOwner(gone.Process.Pid)))
	gone.Process.Kill()
	gone.Wait()
	must(reg.Register("idle-udp", idle, portpool.ModeFlexible, portpool.WithProtocol(portpool.UDP)))
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	bound := (udp.LocalAddr().(*net.UDPAddr).Port)
	must(reg.Register("served", bound, portpool.ModeFixed, portpool.WithProtocol(portpool.UDP), portpool.WithForce()))
	// A pool over the kernel's ephemeral range: a finding about no port.
	lo, _ := ephemeralRange(t)
	seen.walk(must(reg.SetPool("ephemeral", lo, lo+10, portpool.WithProbe(false))))

	return bound
}

// everyFieldWasSeen fails t for each field of the package's value types that no call returned.
func everyFieldWasSeen(t *testing.T, seen fieldsSeen) {
	types := []any{portpool.Lease{}, portpool.Owner{}, portpool.Next{}, portpool.Origin{}, portpool.Pool{},
		portpool.Reclaimed{}, portpool.Who{}, portpool.Socket{}, portpool.Process{}, portpool.ImportReport{},
		portpool.DoctorReport{}, portpool.Finding{}, portpool.PoolChange{}}
	// Set only when the host hides its sockets, which the test skips above.
	unreachable := map[string]bool{"Who.Unavailable": true, "DoctorReport.Unavailable": true}
	for _, value := range types {
		typ := reflect.TypeOf(value)
		for i := 0; i < typ.NumField(); i++ {
			name := typ.Name() + "." + typ.Field(i).Name
			if !seen[name] && !unreachable[name] {
				t.Errorf("no call returned a %s: the JSON check never met it", name)
			}
		}
	}
}
