// Package json is the WAMP JSON serializer (subprotocol "wamp.2.json"): a
// hand-rolled, allocation-free decoder for the router's hot path, an
// appending encoder, and the token Walk/Writer pair used to transcode
// payloads to and from the binary serializers.
//
// Input is strict RFC 8259 (no comments, trailing commas, NaN, leading
// zeros or '+', raw control characters, invalid escapes, lone surrogates
// or invalid UTF-8). Decoded strings are views into the input when they
// have no escapes and are unescaped into Message.Buf (Decode) or pooled
// scratch (Walk) otherwise. Binary follows the WAMP convention: a string
// whose value is U+0000 followed by standard base64.
//
// Importing the package registers it with codec.Register.
package json
