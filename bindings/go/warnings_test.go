package portpool_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"portpool"
)

const warningsRegistry = "PORTPOOL_TEST_WARNINGS_REGISTRY"

// Root's registry in a sticky directory others may write, with a long tail and no spare:
// another user's changes append, and TakeWarnings says once that it cannot be compacted.
func TestARegistryThisProcessCannotCompactIsAWarningOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to become another user")
	}
	dir, err := os.MkdirTemp("", "portpool-go-warnings-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := uncompactable(t, dir)
	// The test binary, where the other user may run it, runs TestHelperWarnings as that user.
	self := filepath.Join(dir, "portpool.test")
	copyExecutable(t, self)
	cmd := exec.Command(self, "-test.run=^TestHelperWarnings$", "-test.v")
	cmd.Env = append(os.Environ(), warningsRegistry+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHelperWarnings") {
		t.Fatalf("as another user: %v\n%s", err, out)
	}
	if got := portpool.TakeWarnings(); got != nil {
		t.Fatalf("this process wrote nothing it could not compact, yet warns %q", got)
	}
}

// uncompactable makes dir sticky and world-writable and a registry in it that root made, with
// 300 appended lines, every user may write; its path.
func uncompactable(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "registry.json")
	reg := must(portpool.Open(path))
	must(reg.Register("web", must(portpool.FindFree()), portpool.ModeFixed))
	reg.Close()
	f := must(os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0))
	must(f.WriteString(strings.Repeat("{\"cursors\":{\"default\":9000}}\n", 300)))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".lock"} {
		if err := os.Chmod(p, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// copyExecutable copies this test binary to dst, executable by everyone.
func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	src := must(os.Open(must(os.Executable())))
	defer src.Close()
	out := must(os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755))
	must(io.Copy(out, src))
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHelperWarnings is run by TestARegistryThisProcessCannotCompactIsAWarningOnce, as
// another user, on the registry it names; it skips otherwise.
func TestHelperWarnings(t *testing.T) {
	path := os.Getenv(warningsRegistry)
	if path == "" {
		t.Skip("run by TestARegistryThisProcessCannotCompactIsAWarningOnce only")
	}
	reg := must(portpool.Open(path))
	defer reg.Close()
	for _, name := range []string{"a", "b"} {
		must(reg.Allocate(name, "default", portpool.WithOwner(1)))
	}
	warnings := portpool.TakeWarnings()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "cannot be compacted") {
		t.Fatalf("warnings: %q, want one saying the registry cannot be compacted", warnings)
	}
	if again := portpool.TakeWarnings(); again != nil {
		t.Fatalf("the warning came twice: %q", again)
	}
}
