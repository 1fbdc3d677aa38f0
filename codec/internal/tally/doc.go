// Package tally keeps the container books of the MessagePack and CBOR
// Writers; it is internal because only those codecs need it.
package tally
