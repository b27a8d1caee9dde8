//go:build cgo && portpool_pkgconfig

package portpool

// How the package finds an installed libportpool: through pkg-config, which gives the
// include directory, -lportpool and an rpath, so programs run without LD_LIBRARY_PATH.
//
// In this source tree it applies with `go build -tags portpool_pkgconfig`. `make install`
// copies the package to PREFIX/share/gocode/src/portpool with this file's build constraint
// reduced to `cgo`, so a module using that copy builds with a plain `go build`.

// #cgo pkg-config: portpool
import "C"
