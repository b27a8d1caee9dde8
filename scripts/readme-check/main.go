// The newcomer's program of scripts/readme-check.sh's Go blocks: opens the registry in
// $PORTPOOL_REGISTRY and leases one port.
package main

import (
	"fmt"
	"os"

	"portpool"
)

func main() {
	reg, err := portpool.Open(os.Getenv("PORTPOOL_REGISTRY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer reg.Close()
	port, err := reg.Allocate("readme-go", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("readme-go:", port)
}
