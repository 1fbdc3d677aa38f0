// Package codectest holds the message vectors every serializer is tested
// against, and the checks the serializers' tests and fuzz targets share. A
// case is a WAMP message written as plain Go values (the shape a reference
// library such as encoding/json, vmihailenco/msgpack or fxamacker/cbor
// encodes), together with what Decode must produce. Each serializer's tests
// encode Value with their reference library and hand the bytes to
// RoundTrip, which decodes, compares with Check, encodes back and compares
// again.
//
// Besides: Recorder, CheckTokens and ThroughWriter for Walk's token stream;
// EqualValues and its stricter variants for Go values; SameMessage for two
// decoded messages; the encoding/json reference (JSONValue, SameAsJSON);
// HotMessages; CheckCaseAllocs; Seeds for fuzz corpora. The set-ups of the
// binary reference libraries are in the reflib subpackage.
package codectest
