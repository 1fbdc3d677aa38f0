// Package fuzz holds the native Go fuzz targets for every parser and codec
// in zwamp, each with a checked-in seed corpus under testdata/fuzz, and two
// targets for the router as a whole: FuzzRouter (operation sequences on
// several sessions of one core.Router, checked against a model of the
// router after every step) and FuzzNetpoll (arbitrary bytes into a live
// WebSocket or RawSocket connection of a netpoll server, with an observer
// session that must keep working).
//
// Run one target:   go test -run='^$' -fuzz='^FuzzJSONDecode$' ./fuzz
// Run all briefly:  make fuzz FUZZTIME=10s   (or a count: FUZZTIME=20000x)
package fuzz
