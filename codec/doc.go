// Package codec defines the WAMP message model that every serializer shares:
// message types, the element layout of each type, typed Options/Details keys,
// lazy payload views (Raw), the value-token interface used for transcoding,
// and typed decode errors.
//
// The serializers live in subpackages (codec/json, codec/msgpack, codec/cbor)
// and register themselves with Register; the router looks a serializer up by
// Format and never needs to know which one a peer speaks.
//
// Ownership: a decoded Message holds views into the input buffer (URI, Dict,
// Args, Kwargs, list entries of Details) and into Message.Buf (unescaped
// strings). Those views are valid until the input buffer is reused or the
// Message is decoded into again; anything that must outlive that is copied by
// the caller.
package codec
