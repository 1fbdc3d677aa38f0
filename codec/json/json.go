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
