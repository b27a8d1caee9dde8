package portpool_test

import (
	"path/filepath"
	"testing"

	"portpool"
)

func TestASecondBeginIsAConflictUnlessItRetriesItsTicketOrSupersedes(t *testing.T) {
	reg, _ := open(t)
	must(reg.Allocate("api", ""))
	first := must(reg.BeginHandoverTicket("api", 0, false))
	if first.Ticket != 1 || !first.Created {
		t.Fatalf("first begin = %+v", first)
	}
	_, err := reg.BeginHandover("api")
	wantErr(t, err, portpool.ErrConflict, "ticket 1")
	again := must(reg.BeginHandoverTicket("api", first.Ticket, false))
	if again.Port != first.Port || again.Created {
		t.Fatalf("retried begin = %+v, want %+v not created", again, first)
	}
	_, err = reg.Release("api")
	wantErr(t, err, portpool.ErrConflict, "commit or abort")
	newer := must(reg.BeginHandoverTicket("api", 0, true))
	if newer.Ticket <= first.Ticket {
		t.Fatalf("superseding begin = %+v", newer)
	}
	_, err = reg.CommitHandoverTicket("api", first.Ticket)
	wantErr(t, err, portpool.ErrConflict, "nothing was changed")
	if port := must(reg.CommitHandoverTicket("api", newer.Ticket)); port != newer.Port {
		t.Fatalf("commit = %d, want %d", port, newer.Port)
	}
	must(reg.BeginHandover("api"))
	if !must(reg.ReleaseAll("api")) {
		t.Fatal("ReleaseAll released nothing")
	}
}

func TestABatchHandoverIsAllOrNone(t *testing.T) {
	reg, _ := open(t)
	must(reg.AllocateMany([]string{"w-1", "w-2"}, ""))
	begun := must(reg.BeginHandovers([]string{"w-1", "w-2"}, false))
	_, err := reg.BeginHandovers([]string{"w-1", "w-2"}, false)
	wantErr(t, err, portpool.ErrConflict)
	wrong := []portpool.Ending{{Name: "w-1", Ticket: begun[0].Ticket}, {Name: "w-2", Ticket: 99}}
	_, err = reg.CommitHandovers(wrong)
	wantErr(t, err, portpool.ErrConflict, "99")
	for _, l := range must(reg.List()) {
		if l.Next == nil || l.Next.Ticket != 1 {
			t.Fatalf("a refused batch changed %+v", l)
		}
	}
	endings := []portpool.Ending{{Name: "w-1", Ticket: begun[0].Ticket}, {Name: "w-2", Ticket: begun[1].Ticket}}
	ports := must(reg.CommitHandovers(endings))
	if ports[0] != begun[0].Port || ports[1] != begun[1].Port {
		t.Fatalf("CommitHandovers = %v, want the ports of %+v", ports, begun)
	}
	_, err = reg.AbortHandovers([]portpool.Ending{{Name: "w-1"}, {Name: "w-1"}})
	wantErr(t, err, portpool.ErrInvalidArgument, "twice")
}

func TestNamesLiveInNamespacesAndPortsStayUniqueAcrossThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.json")
	blue := must(portpool.Open(path, portpool.WithNamespace("blue")))
	defer blue.Close()
	green := must(portpool.Open(path, portpool.WithNamespace("green")))
	defer green.Close()
	a := must(blue.Allocate("worker-1", ""))
	b := must(green.Allocate("worker-1", ""))
	if a == b {
		t.Fatalf("two namespaces share port %d", a)
	}
	if got := must(blue.List()); len(got) != 1 || got[0].Namespace != "blue" || got[0].Port != a {
		t.Fatalf("blue lists %+v", got)
	}
	if all := must(green.ListAllNamespaces()); len(all) != 2 {
		t.Fatalf("ListAllNamespaces = %+v", all)
	}
	_, err := portpool.Open(path, portpool.WithNamespace("a b"))
	wantErr(t, err, portpool.ErrInvalidArgument, "namespace")
}

func TestPortsAreIntsCheckedByCore(t *testing.T) {
	reg, _ := open(t)
	for _, port := range []int{0, -1, 65536, 1 << 40} {
		_, err := reg.Register("web", port, portpool.ModeFlexible)
		wantErr(t, err, portpool.ErrInvalidArgument, "1-65535")
		_, _, err = reg.Check(port, portpool.TCP)
		wantErr(t, err, portpool.ErrInvalidArgument)
		_, err = reg.Allocate("web", "", portpool.WithExclude(port))
		wantErr(t, err, portpool.ErrInvalidArgument)
	}
	_, err := reg.SetPool("p", 1000, 70000)
	wantErr(t, err, portpool.ErrInvalidArgument, "70000")
}
