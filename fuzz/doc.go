// Package fuzz holds the native Go fuzz targets for every parser and codec
// in zwamp, each with a checked-in seed corpus under testdata/fuzz.
//
// Run one target:   go test -run='^$' -fuzz='^FuzzJSONDecode$' ./fuzz
// Run all briefly:  make fuzz FUZZTIME=10s   (or a count: FUZZTIME=20000x)
package fuzz
