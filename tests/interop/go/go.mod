module portpool.dev/interop

go 1.22

require portpool.dev/portpool v0.0.0

replace portpool.dev/portpool => ../../../bindings/go
