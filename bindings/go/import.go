package portpool

// Import: reading another tool's flat {"name": port} file into leases.

/*
#include "portpool.h"
*/
import "C"

// Import reads a flat {"name": port, ...} file into fixed, permanent TCP leases, in one
// write. Names already present with the same port are skipped; any problem refuses the whole
// file, listing every problem, and writes nothing. A missing file is ErrNotFound; a file that
// is not such a map, or has bad names or ports, is ErrInvalidArgument; a port leased to
// another name is ErrConflict.
func (r *Registry) Import(path string) (ImportReport, error) {
	return withCString("file", path, func(cpath *C.char) (ImportReport, error) {
		return jsonOf[ImportReport](r, func(h *C.portpool_registry, out **C.char, e **C.portpool_error) C.enum_portpool_status {
			return C.portpool_import(h, cpath, out, e)
		})
	})
}
