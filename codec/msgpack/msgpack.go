// Package msgpack is zwamp's WAMP MessagePack serializer ("wamp.2.msgpack").
//
// Decode is a hand-rolled byte loop over the MessagePack encoding (spec
// version 5): it reads the message array in place, decodes the elements the
// router acts on into codec.Message, validates payloads completely without
// building Go values, and allocates nothing on success. Append writes a
// Message with the smallest encoding of every integer and length. Walk and
// Writer connect MessagePack to the value tokens used for transcoding.
//
// Extension types (ext, fixext) are accepted inside payloads by Decode, so a
// payload can pass verbatim between MessagePack peers, but Walk reports
// codec.ErrUnsupported for them because no other format can carry them.
package msgpack

import "github.com/zwamp/zwamp/codec"

// Serializer implements codec.Codec for MessagePack. It has no state; use
// the package variable Codec.
type Serializer struct{}

// Codec is the MessagePack serializer, registered with codec.Register.
var Codec Serializer

var _ codec.Codec = Codec

func init() { codec.Register(Codec) }

// Format returns codec.MsgPack.
func (Serializer) Format() codec.Format { return codec.MsgPack }

// Decode parses one MessagePack-encoded WAMP message into m; see Decode.
func (Serializer) Decode(m *codec.Message, data []byte) error { return Decode(m, data) }

// Append appends the MessagePack encoding of m to dst; see Append.
func (Serializer) Append(dst []byte, m *codec.Message) ([]byte, error) { return Append(dst, m) }

// Walk reports the single MessagePack value in data to w; see Walk.
func (Serializer) Walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	return Walk(data, w, maxDepth)
}

// NewWriter returns a MessagePack Writer.
func (Serializer) NewWriter() codec.Writer { return NewWriter() }
