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
