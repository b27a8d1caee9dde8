//go:build cgo && !portpool_pkgconfig

package portpool

// How the package finds libportpool in this source tree (the default): the header from
// include/ and the static library that `make -C ffi` builds, target/release/libportpool.a,
// linked by its path, so the linker can never pick libportpool.so and programs run without
// LD_LIBRARY_PATH. With another CARGO_TARGET_DIR, build with the portpool_pkgconfig tag
// instead (link_pkgconfig.go).
//
// `make install` copies this package without this file; its copy of link_pkgconfig.go
// applies without a tag.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libportpool.a -lutil -lrt -lpthread -lm -ldl
*/
import "C"
