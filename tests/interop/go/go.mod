module portpool-interop

go 1.22

require portpool v0.0.0

replace portpool => ../../../bindings/go
