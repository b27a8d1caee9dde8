// Serving on a leased port without a race: Listen leases a port and binds it in one step,
// so no other process can take the port between the lease and the bind. This program serves
// HTTP on the socket, asks itself for a page through the leased port, and gives the port
// back.
//
//	go run ./listen [REGISTRY-PATH]   (default: $PORTPOOL_REGISTRY, else the host registry)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"portpool"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
}

func run() error {
	path := ""
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	reg, err := portpool.Open(path)
	if err != nil {
		return err
	}
	defer reg.Close()

	// The next free port of the default pool, bound and listening, leased to "hello" and
	// owned by this process (reclaimed if it dies before the Release below).
	l, err := reg.Listen("hello")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port // the leased port
	// Closing the listener (server.Close does) keeps the lease: release it explicitly.
	defer func() {
		if _, err := reg.Release("hello"); err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			return
		}
		fmt.Printf("hello: released port %d\n", port)
	}()
	fmt.Printf("hello: serving on leased port %d\n", port)

	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "hello from a leased port")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go server.Serve(l)
	defer server.Close()

	client := &http.Client{Timeout: 5 * time.Second}
	response, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return err
	}
	fmt.Printf("GET 127.0.0.1:%d: %s %s", port, response.Status, body)
	return nil
}
