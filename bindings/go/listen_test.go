package portpool_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portpool"
)

var localhost = netip.MustParseAddr("127.0.0.1")

// listenTCP is reg.Listen that stops the test on error and closes the listener when it ends.
func listenTCP(t *testing.T, reg *portpool.Registry, name string, opts ...portpool.LeaseOption) (net.Listener, int) {
	t.Helper()
	l, err := reg.Listen(name, opts...)
	if err != nil {
		t.Fatalf("Listen(%q): %v", name, err)
	}
	t.Cleanup(func() { l.Close() })
	return l, (l.Addr().(*net.TCPAddr).Port)
}

func TestAnHTTPServerOnListenAnswersAGetThroughTheLeasedPort(t *testing.T) {
	reg, _ := open(t)
	l, port := listenTCP(t, reg, "web")
	if held := must(reg.Get("web")); held != port {
		t.Fatalf("the listener is on port %d, the lease holds %d", port, held)
	}
	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "web on %s", r.Host)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(l) }()
	client := &http.Client{Timeout: 10 * time.Second}
	response, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil || response.StatusCode != http.StatusOK || string(body) != fmt.Sprintf("web on 127.0.0.1:%d", port) {
		t.Fatalf("GET through port %d: %d %q %v", port, response.StatusCode, body, err)
	}
	server.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

func TestListenLeaseIsOwnedByThisProcessAndOutlivesTheListener(t *testing.T) {
	reg, _ := open(t)
	l, port := listenTCP(t, reg, "web")
	lease := must(reg.GetLease("web"))
	if lease.Port != port || lease.Protocol != portpool.TCP || lease.Owner == nil || lease.Owner.PID != os.Getpid() {
		t.Fatalf("the lease is %+v: want port %d/tcp owned by pid %d", lease, port, os.Getpid())
	}
	l.Close()
	if held := must(reg.Get("web")); held != port {
		t.Fatalf("after the listener closed the lease holds %d, want %d", held, port)
	}
	if !must(reg.Release("web")) {
		t.Fatal("Release found no lease")
	}
}

func TestListenWithOwnerLeasesToThatProcess(t *testing.T) {
	reg, _ := open(t)
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	listenTCP(t, reg, "worker", portpool.WithOwner(child.Process.Pid), portpool.WithTTL(time.Minute))
	lease := must(reg.GetLease("worker"))
	if lease.Owner == nil || lease.Owner.PID != child.Process.Pid || lease.TTL != time.Minute {
		t.Fatalf("the lease is %+v: want owner %d and a 1m time to live", lease, child.Process.Pid)
	}
}

func TestListenPacketRoundTripsADatagramThroughTheLeasedPort(t *testing.T) {
	reg, _ := open(t)
	conn := must(reg.ListenPacket("dns"))
	defer conn.Close()
	port := (conn.LocalAddr().(*net.UDPAddr).Port)
	if lease := must(reg.GetLease("dns")); lease.Port != port || lease.Protocol != portpool.UDP {
		t.Fatalf("the lease is %+v: want port %d/udp", lease, port)
	}
	go func() {
		buf := make([]byte, 64)
		n, from, err := conn.ReadFrom(buf)
		if err == nil {
			conn.WriteTo([]byte(strings.ToUpper(string(buf[:n]))), from)
		}
	}()
	client, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := client.Read(buf)
	if err != nil || string(buf[:n]) != "PING" {
		t.Fatalf("reply through port %d: %q, %v", port, buf[:n], err)
	}
}

func TestListenOnANameThatHoldsALeaseBindsItsPortAgain(t *testing.T) {
	reg, _ := open(t)
	first, port := listenTCP(t, reg, "web")
	// Bound by a listener (this process's, here): the lease stands, the bind cannot.
	_, err := reg.Listen("web")
	wantErr(t, err, portpool.ErrConflict, "web", fmt.Sprint(port), "bound")
	first.Close()
	_, again := listenTCP(t, reg, "web")
	if again != port {
		t.Fatalf("Listen again bound %d, want the held port %d", again, port)
	}
	registered := must(reg.Register("api", 24050, portpool.ModeFlexible))
	if _, bound := listenTCP(t, reg, "api"); bound != registered {
		t.Fatalf("Listen of a registered name bound %d, want its port %d", bound, registered)
	}
}

func TestListenTakesAPoolOrPortsInAModeThenTheRange(t *testing.T) {
	reg, _ := open(t)
	b := freeBlock(t, 3) // a pool of two, then a range
	must(reg.SetPool("mine", b, b+1, portpool.WithProbe(false)))
	if _, port := listenTCP(t, reg, "pooled", portpool.WithPool("mine"), portpool.WithExclude(b)); port != b+1 {
		t.Fatalf("WithPool and WithExclude(%d): port %d, want %d", b, port, b+1)
	}
	bound := listen(t)
	_, err := reg.Listen("fixed", portpool.WithPort(bound), portpool.WithMode(portpool.ModeFixed))
	wantErr(t, err, portpool.ErrConflict)
	_, port := listenTCP(t, reg, "ranged", portpool.WithPorts(bound), portpool.WithMode(portpool.ModeFixed), portpool.WithRange(b+2, b+11))
	if port != b+2 {
		t.Fatalf("a bound fixed port then WithRange(%d, %d): port %d, want %d", b+2, b+11, port, b+2)
	}
}

func TestListenWithHostBindsThatAddressOnly(t *testing.T) {
	reg, _ := open(t)
	l, _ := listenTCP(t, reg, "local", portpool.WithHost(localhost))
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("bound %v, want 127.0.0.1", l.Addr())
	}
	conn := must(reg.ListenPacket("local-udp", portpool.WithHost(localhost)))
	defer conn.Close()
	if ip := conn.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("bound %v, want 127.0.0.1", conn.LocalAddr())
	}
}

func TestListenRefusesBadInputAndLeasesNothing(t *testing.T) {
	reg, path := open(t)
	cases := []struct {
		name string
		call func() error
		says string
	}{
		{"protocol", func() error {
			_, err := reg.Listen("web", portpool.WithProtocol(portpool.UDP))
			return err
		}, "Listen takes only WithOwner, WithTTL, WithPool, WithPort, WithMode, WithRange, WithExclude, WithHost"},
		{"force", func() error { _, err := reg.Listen("web", portpool.WithForce()); return err }, "Listen takes only"},
		{"backlog for UDP", func() error {
			_, err := reg.ListenPacket("web", portpool.WithBacklog(16))
			return err
		}, "ListenPacket takes only"},
		{"negative backlog", func() error { _, err := reg.Listen("web", portpool.WithBacklog(-1)); return err }, "invalid backlog -1"},
		{"backlog over MaxInt32", func() error {
			_, err := reg.Listen("web", portpool.WithBacklog(1<<31))
			return err
		}, "invalid backlog 2147483648: expected 0"},
		{"port 0", func() error { _, err := reg.Listen("web", portpool.WithPort(0)); return err }, "invalid port 0"},
		{"reversed range", func() error {
			_, err := reg.Listen("web", portpool.WithPort(24100), portpool.WithRange(24110, 24101))
			return err
		}, "start is after end"},
		{"range with a pool", func() error {
			_, err := reg.Listen("web", portpool.WithPool("default"), portpool.WithRange(24101, 24110))
			return err
		}, "a pool has its own range"},
		{"host not of this machine", func() error {
			_, err := reg.Listen("web", portpool.WithHost(netip.MustParseAddr("192.0.2.7")))
			return err
		}, "192.0.2.7"},
		{"zero host", func() error {
			_, err := reg.ListenPacket("web", portpool.WithHost(netip.Addr{}))
			return err
		}, "zero netip.Addr"},
		{"bad name", func() error { _, err := reg.Listen("a b"); return err }, "whitespace"},
		{"dead owner", func() error {
			_, err := reg.Listen("web", portpool.WithOwner(2147483646))
			return err
		}, "2147483646"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.call(), portpool.ErrInvalidArgument, c.says)
		})
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused Listen wrote the registry (stat: %v)", err)
	}
}

func TestListenNeverReturnsAPortItDoesNotHoldWhileAnotherProcessBindsThePool(t *testing.T) {
	reg, _ := open(t)
	lo := freeBlock(t, 8)
	hi := lo + 7
	must(reg.SetPool("contested", lo, hi))
	// The hostile side: binds every port of the pool in a tight loop, outside the registry.
	var stop atomic.Bool
	var hostile sync.WaitGroup
	hostile.Add(1)
	go func() {
		defer hostile.Done()
		for !stop.Load() {
			for port := lo; port <= hi; port++ {
				if l, err := net.Listen("tcp", fmt.Sprintf(":%d", port)); err == nil {
					l.Close()
				}
			}
		}
	}()
	defer func() { stop.Store(true); hostile.Wait() }()
	served := 0
	for i := range 200 {
		name := fmt.Sprintf("server-%d", i)
		l, err := reg.Listen(name, portpool.WithPool("contested"))
		if err != nil {
			// The only acceptable failures say why: every port leased or bound.
			if !errors.Is(err, portpool.ErrExhausted) && !errors.Is(err, portpool.ErrConflict) {
				t.Fatalf("Listen(%s): %v", name, err)
			}
			continue
		}
		port := (l.Addr().(*net.TCPAddr).Port)
		if held := must(reg.Get(name)); held != port {
			t.Fatalf("%s: the listener is on %d, the lease holds %d", name, port, held)
		}
		// The listener really holds the port: nobody else can bind it now.
		if other, err := net.Listen("tcp", fmt.Sprintf(":%d", port)); err == nil {
			other.Close()
			t.Fatalf("%s: port %d could be bound again while Listen's socket held it", name, port)
		}
		served++
		l.Close()
		must(reg.Release(name))
	}
	if served == 0 {
		t.Fatal("no Listen succeeded against the hostile binder")
	}
}
