// Package reflib sets up the reference libraries the binary codecs are
// tested against, fxamacker/cbor and vmihailenco/msgpack, to read and write
// the way the WAMP codecs must where both are defined. The codec packages'
// tests and their fuzz targets share it; codectest itself stays free of
// these dependencies (it is imported by tests all over the module).
package reflib
