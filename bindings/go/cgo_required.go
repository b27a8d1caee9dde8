//go:build !cgo

package portpool

// The portpool package calls libportpool, a C library, through cgo: it cannot be built with
// CGO_ENABLED=0. This file exists to stop such a build with an error that says so (every
// other file of the package needs cgo and is left out).
const _ = portpool_requires_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler
