// An HTTP server on the socket `portpool run --listen` passes as fd 3.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	listener, err := net.FileListener(os.NewFile(3, os.Getenv("LISTEN_FDNAMES")))
	if err != nil {
		log.Fatal(err)
	}
	mine := os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid())
	word := map[bool]string{true: "True", false: "False"}[mine]
	log.Fatal(http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "go listen-pid-is-mine=%s", word)
	})))
}
