// Code generated from tests/parity/options.tsv by cli/tests/parity/main.rs; DO NOT EDIT.
// PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.

//go:build cgo

package portpool

// allowedOptions is, per call, the options its operation takes in the table.
var allowedOptions = map[string]optionSet{
	"Register":     optionsNamed("WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithRange", "WithExclude", "WithHost", "WithBindable"),
	"RegisterAny":  optionsNamed("WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithRange", "WithExclude", "WithHost", "WithBindable"),
	"Allocate":     optionsNamed("WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithExclude", "WithHost", "WithBindable"),
	"AllocateMany": optionsNamed("WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithExclude", "WithHost", "WithBindable"),
	"Lease":        optionsNamed("WithPool", "WithPort", "WithMode", "WithProtocol", "WithForce", "WithOwner", "WithTTL", "WithRange", "WithExclude", "WithHost", "WithBindable"),
	"Listen":       optionsNamed("WithPool", "WithPort", "WithMode", "WithOwner", "WithTTL", "WithRange", "WithExclude", "WithHost", "WithBacklog"),
	"ListenPacket": optionsNamed("WithPool", "WithPort", "WithMode", "WithOwner", "WithTTL", "WithRange", "WithExclude", "WithHost", "WithBacklog"),
	"FindFree":     optionsNamed("WithProtocol", "WithPorts", "WithRange", "WithExclude", "WithHost"),
	"FindFreeN":    optionsNamed("WithProtocol", "WithPorts", "WithRange", "WithExclude", "WithHost"),
	"IsFree":       optionsNamed("WithHost"),
}
