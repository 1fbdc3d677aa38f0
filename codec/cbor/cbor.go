package cbor

import "github.com/zwamp/zwamp/codec"

// Serializer is the CBOR codec.Codec. It has no state; use Codec.
type Serializer struct{}

// Codec is the CBOR serializer, registered with codec.Register at init.
var Codec Serializer

var _ codec.Codec = Codec

func init() { codec.Register(Codec) }

// Format returns codec.CBOR.
func (Serializer) Format() codec.Format { return codec.CBOR }

// Decode is the package-level Decode.
func (Serializer) Decode(m *codec.Message, data []byte) error { return Decode(m, data) }

// Append is the package-level Append.
func (Serializer) Append(dst []byte, m *codec.Message) ([]byte, error) { return Append(dst, m) }

// Walk is the package-level Walk.
func (Serializer) Walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	return Walk(data, w, maxDepth)
}

// NewWriter returns a new *Writer as a codec.Writer.
func (Serializer) NewWriter() codec.Writer { return NewWriter() }
