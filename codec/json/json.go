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

import "github.com/zwamp/zwamp/codec"

// Serializer implements codec.Codec for JSON. It has no state.
type Serializer struct{}

// Codec is the JSON serializer, registered with the codec package.
var Codec Serializer

func init() { codec.Register(Codec) }

var _ codec.Codec = Codec

// Format returns codec.JSON.
func (Serializer) Format() codec.Format { return codec.JSON }

// Decode is the package-level Decode.
func (Serializer) Decode(m *codec.Message, data []byte) error { return Decode(m, data) }

// Append is the package-level Append.
func (Serializer) Append(dst []byte, m *codec.Message) ([]byte, error) { return Append(dst, m) }

// Walk is the package-level Walk.
func (Serializer) Walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	return Walk(data, w, maxDepth)
}

// NewWriter returns a new *Writer.
func (Serializer) NewWriter() codec.Writer { return NewWriter() }
