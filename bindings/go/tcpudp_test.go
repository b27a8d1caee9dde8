package portpool_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"portpool"
)

// udpBound holds a UDP port on every IPv4 address until the test ends.
func udpBound(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestATCPUDPLeaseConflictsWithATCPAndAUDPLeaseOfItsPort(t *testing.T) {
	reg, path := open(t)
	busy := udpBound(t)
	port := must(reg.Register("dns", busy, portpool.ModeFlexible, portpool.WithProtocol(portpool.TCPUDP)))
	if port == busy {
		t.Fatalf("got %d, which a UDP socket holds: the probe must check both protocols", port)
	}
	_, err := reg.Register("web", port, portpool.ModeFixed)
	wantErr(t, err, portpool.ErrConflict, "dns")
	_, err = reg.Register("syslog", port, portpool.ModeFixed, portpool.WithProtocol(portpool.UDP))
	wantErr(t, err, portpool.ErrConflict, "dns")
	// Through the file: a new handle reads the lease back as tcp+udp.
	again := must(portpool.Open(path))
	defer again.Close()
	if lease := must(again.GetLease("dns")); lease.Protocol != portpool.TCPUDP || lease.Port != port {
		t.Fatalf("read back %+v: want port %d/tcp+udp", lease, port)
	}
	if text := string(must(os.ReadFile(path))); !strings.Contains(text, `"protocol":"tcp+udp"`) {
		t.Fatalf("the file says %s", text)
	}
}

func TestATCPUDPRegistrationOfAPortLeasedForUDPIsAConflict(t *testing.T) {
	reg, _ := open(t)
	port := must(portpool.FindFree(portpool.WithProtocol(portpool.TCPUDP)))
	must(reg.Register("syslog", port, portpool.ModeFixed, portpool.WithProtocol(portpool.UDP)))
	_, err := reg.Register("dns", port, portpool.ModeFixed, portpool.WithProtocol(portpool.TCPUDP))
	wantErr(t, err, portpool.ErrConflict, "syslog")
}

func TestIsFreeForTCPUDPRefusesAPortBoundForUDPOnly(t *testing.T) {
	if must(portpool.IsFree(udpBound(t), portpool.TCPUDP)) {
		t.Fatal("a port a UDP socket holds is free for tcp+udp")
	}
}

func TestTCPUDPIsSpelledTCPPlusUDP(t *testing.T) {
	text := must(portpool.TCPUDP.MarshalText())
	var p portpool.Protocol
	if err := p.UnmarshalText(text); err != nil || string(text) != "tcp+udp" || p != portpool.TCPUDP {
		t.Fatalf("%q read back as %v (%v)", text, p, err)
	}
}

func TestATCPUDPLeaseCrossesTheFileBetweenGoAndTheCommandLine(t *testing.T) {
	cli := os.Getenv("PORTPOOL_CLI")
	if cli == "" {
		t.Skip("PORTPOOL_CLI is not set (make -C bindings/go test sets it)")
	}
	reg, path := open(t)
	port := must(reg.Register("from-go", must(portpool.FindFree(portpool.WithProtocol(portpool.TCPUDP))), portpool.ModeFixed, portpool.WithProtocol(portpool.TCPUDP)))
	// The CLI's check for the UDP side finds the lease Go made for both.
	out, _ := exec.Command(cli, "--registry", path, "check", strconv.Itoa(port), "--protocol", "udp", "--json").Output()
	var checked struct {
		State string
		Lease struct{ Protocol string }
	}
	if err := json.Unmarshal(out, &checked); err != nil || checked.State != "leased" || checked.Lease.Protocol != "tcp+udp" {
		t.Fatalf("portpool check printed %s (%v): want the tcp+udp lease", out, err)
	}
	other := strconv.Itoa(must(portpool.FindFree(portpool.WithProtocol(portpool.TCPUDP), portpool.WithExclude(port))))
	if out, err := exec.Command(cli, "--registry", path, "register", "from-cli", other, "fixed", "--protocol", "tcp+udp").CombinedOutput(); err != nil {
		t.Fatalf("portpool register: %v: %s", err, out)
	}
	if lease := must(reg.GetLease("from-cli")); lease.Protocol != portpool.TCPUDP {
		t.Fatalf("Go reads the CLI's lease as %+v", lease)
	}
}
