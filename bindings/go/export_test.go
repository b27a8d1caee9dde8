package portpool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// The package's tests read libportpool's JSON strictly, and check every value they decode by
// writing it back: a field core writes that a Go type lacks, or a Go field core does not
// write, fails the call that met it (TestEveryTypeReadsAndWritesCoresJSONExactly makes sure
// every optional field is met at least once).
func init() {
	strictJSON = true
	checkDecoded = writesBackTheSameJSON
}

func writesBackTheSameJSON(text string, value any) error {
	back, err := json.Marshal(value)
	if err != nil {
		return err
	}
	read, written := generic(text), generic(string(back))
	if !reflect.DeepEqual(read, written) {
		return fmt.Errorf("the Go value %T does not write back core's JSON:\n  core: %s\n  Go:   %s", value, text, back)
	}
	return nil
}

// generic is JSON text as maps, slices and exact numbers, to compare by content.
func generic(text string) any {
	decoder := json.NewDecoder(bytes.NewReader([]byte(text)))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return err.Error()
	}
	return value
}
