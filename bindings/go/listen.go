package portpool

// Lease and bind in one step: Listen and ListenPacket hand the server a socket that is
// already bound to its leased port (core's Registry::listen), so no process can take the port
// between the lease and the bind.

/*
#include "portpool.h"
*/
import "C"

import (
	"fmt"
	"net"
	"os"
	"unsafe"
)

// Listen leases a TCP port to name and returns a listener on it, in one step: under the
// registry's lock the port is chosen, bound and listened on, and only then leased, so no
// other process (inside the registry or outside it) can take it in between. Serve on it:
//
//	l, err := reg.Listen("web", portpool.WithPool("web"))
//	if err != nil {
//		return err
//	}
//	defer reg.Release("web") // closing l does not release the lease
//	port := l.Addr().(*net.TCPAddr).Port
//	return http.Serve(l, handler)
//
// The port is the next free one of the default pool, or of WithPool's, or the first of
// WithPort/WithPorts that WithMode allows, then of WithRange's; never one of WithExclude's.
// A name that already holds a lease gets a listener on that lease's port (ErrConflict when
// another process has it bound). The leased port is l.Addr().(*net.TCPAddr).Port.
//
// The socket is bound to WithHost's address, else the IPv6 wildcard in dual-stack mode (IPv4
// and IPv6) where the host has IPv6, else 0.0.0.0; with SO_REUSEADDR, as servers set it, and
// WithBacklog's queue (the kernel's somaxconn by default). Listen takes WithPool, WithPort, WithPorts, WithMode,
// WithRange, WithExclude, WithHost, WithBacklog, WithOwner and WithTTL.
//
// Ownership: the caller owns the listener and closes it; it is close-on-exec, as every
// descriptor Go opens. The lease is owned by WithOwner's process, else by this one. Closing
// the listener does not release the lease: call Release(name), or the lease is reclaimed
// once its owner process has exited (by the next allocation or GC). Nothing is leased when
// Listen fails in libportpool; should Go fail to adopt the socket afterwards (out of
// descriptors, say), the error is ErrIO and the lease stays until it is released or its
// owner exits.
func (r *Registry) Listen(name string, opts ...LeaseOption) (net.Listener, error) {
	f, err := r.listen("Listen", name, TCP, opts)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the listener holds its own duplicate
	l, err := net.FileListener(f)
	if err != nil {
		return nil, adoptError(name, err)
	}
	return l, nil
}

// ListenPacket is Listen for UDP: it leases a UDP port to name and returns a
// net.PacketConn bound to it (a *net.UDPConn), in one step. The leased port is
// c.LocalAddr().(*net.UDPAddr).Port. It takes the options Listen takes, but WithBacklog.
//
// Ownership is as for Listen: the caller owns the connection and closes it; closing it does
// not release the lease (call Release(name), or the owner's exit ends it).
func (r *Registry) ListenPacket(name string, opts ...LeaseOption) (net.PacketConn, error) {
	f, err := r.listen("ListenPacket", name, UDP, opts)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the connection holds its own duplicate
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, adoptError(name, err)
	}
	return c, nil
}

// listen runs portpool_listen for protocol (call names the caller in errors) and returns the
// socket as a file the caller closes.
func (r *Registry) listen(call, name string, protocol Protocol, opts []LeaseOption) (*os.File, error) {
	takes := allowed(call)
	if protocol != TCP {
		takes &^= setBacklog // a UDP socket has no queue of connections
	}
	o, err := collectOptions(opts, takes, call)
	if err != nil {
		return nil, err
	}
	o.c.protocol = C.portpool_protocol(protocol)
	var mem cMemory
	defer mem.free()
	choice, err := o.choice(&mem)
	if err != nil {
		return nil, err
	}
	options, err := o.lease(&mem)
	if err != nil {
		return nil, err
	}
	// The address comes from options.host (WithHost): one option, so never two addresses.
	listen := C.portpool_listen_options{backlog: o.backlog}
	listen.struct_size = C.size_t(unsafe.Sizeof(listen))
	return withCString("name", name, func(cname *C.char) (*os.File, error) {
		var fd C.int
		var port C.uint16_t
		err := r.call(func(reg *C.portpool_registry, e **C.portpool_error) C.enum_portpool_status {
			return C.portpool_listen(reg, cname, choice, options, &listen, &fd, &port, e)
		})
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), fmt.Sprintf("portpool %s port %d/%s", name, uint16(port), protocol)), nil
	})
}

// adoptError is the error of a socket Go could not adopt after name's lease was made.
func adoptError(name string, err error) error {
	return &Error{Kind: ErrIO, Message: fmt.Sprintf(
		"leased and bound a port to %q, but could not use the socket: %v (the lease stays: release it)", name, err)}
}
