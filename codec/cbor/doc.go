// Package cbor is the WAMP CBOR serializer (RFC 8949, subprotocol
// wamp.2.cbor): a hand-rolled byte scanner that decodes messages into a
// reusable codec.Message without allocating, an encoder that appends into
// the caller's buffer, and the Walk/Writer pair codec uses to transcode
// payloads between serializers.
//
// What is accepted on the wire:
//   - Integers in any argument width (a non-preferred encoding such as
//     0x18 0x05 is fine). Negative integers below math.MinInt64 are valid
//     CBOR and pass validation, but Walk reports them as
//     codec.ErrUnsupported because no serializer can carry them further.
//   - Byte and text strings, definite or indefinite (chunks of the same
//     major type, each text chunk valid UTF-8 on its own).
//   - Arrays and maps, definite or indefinite. Map keys must be text strings.
//   - Tags are transparent: the tag number is skipped and the enclosed value
//     is used. In particular bignums (tags 2 and 3) come through as byte
//     strings, and the self-describe tag 55799 in front of a message is
//     harmless.
//   - false, true, null and undefined (both reported as nil), and half,
//     single and double floats (widened exactly to float64). Every other
//     simple value, a stray break and the reserved additional information
//     28..30 are malformed (codec.ErrSyntax).
//
// What is written: preferred serialization (shortest argument), definite
// lengths only, every float as a float64, binary as byte strings, no tags.
package cbor
