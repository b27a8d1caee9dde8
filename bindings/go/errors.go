package portpool

/*
#include "portpool.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per kind of failure. Every error this package returns is an *Error
// that wraps one of them, so errors.Is(err, portpool.ErrNotFound) tells the kind and
// err.Error() carries the message naming the value or file at fault.
var (
	// ErrNotFound: a name, pool or other thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument: an argument was rejected before anything was read or written (a
	// port of 0, a bad name, a pool whose start is after its end, a closed Registry, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConflict: the port is leased to another name or bound by a process outside the
	// registry, or the name already holds something else.
	ErrConflict = errors.New("conflict")
	// ErrExhausted: no free port was left where one was asked for.
	ErrExhausted = errors.New("exhausted")
	// ErrRegistry: the registry file cannot be used (corrupt, of a newer format version, not
	// a portpool registry, a symbolic link, not accessible). The file is left untouched.
	ErrRegistry = errors.New("registry error")
	// ErrIO: the operating system failed a read or write.
	ErrIO = errors.New("i/o error")
	// ErrInternal: a bug in libportpool (a caught panic). The registry file is still whole.
	ErrInternal = errors.New("internal error")
	// ErrBusy: another process held the registry's lock for the whole lock timeout (10 s,
	// $PORTPOOL_LOCK_TIMEOUT seconds, or SetLockTimeout); nothing was changed, and trying
	// again later is safe. The message names the holder's pid when the system shows it.
	ErrBusy = errors.New("busy")
)

// Error is a failed portpool call: the kind (one of the sentinel errors) and the message.
type Error struct {
	// Kind is ErrNotFound, ErrInvalidArgument, ErrConflict, ErrExhausted, ErrRegistry, ErrIO,
	// ErrBusy or ErrInternal.
	Kind error
	// Message names the value or file at fault, e.g. `no lease named "web"`.
	Message string
}

// Error returns "portpool: " followed by the message.
func (e *Error) Error() string { return "portpool: " + e.Message }

// Unwrap returns the kind, so that errors.Is matches the sentinel errors.
func (e *Error) Unwrap() error { return e.Kind }

var kinds = map[C.enum_portpool_status]error{
	C.PORTPOOL_NOT_FOUND:        ErrNotFound,
	C.PORTPOOL_INVALID_ARGUMENT: ErrInvalidArgument,
	C.PORTPOOL_CONFLICT:         ErrConflict,
	C.PORTPOOL_EXHAUSTED:        ErrExhausted,
	C.PORTPOOL_REGISTRY_ERROR:   ErrRegistry,
	C.PORTPOOL_IO_ERROR:         ErrIO,
	C.PORTPOOL_PANIC:            ErrInternal,
	C.PORTPOOL_BUSY:             ErrBusy,
}

// statusError turns a status and the error that came back with it into an error, and frees
// the C error. A failure always brings its error; without one (never expected), the message
// says so rather than reading another call's.
func statusError(status C.enum_portpool_status, e *C.portpool_error) error {
	defer C.portpool_error_free(e)
	if status == C.PORTPOOL_OK {
		return nil
	}
	kind, ok := kinds[status]
	if !ok {
		kind = ErrInternal
	}
	message := "libportpool gave no message"
	if e != nil {
		message = C.GoString(C.portpool_error_message(e))
	}
	return &Error{Kind: kind, Message: message}
}

func invalid(format string, args ...any) error {
	return &Error{Kind: ErrInvalidArgument, Message: fmt.Sprintf(format, args...)}
}
