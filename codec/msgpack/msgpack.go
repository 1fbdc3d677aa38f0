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
