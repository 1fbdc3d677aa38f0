package codec

// LookupKey returns the Key with wire name name. Every serializer calls it
// for every Options/Details key it decodes, so it is a perfect hash of
// (length, first, second and last byte) over the fixed set of names: one
// table probe and one comparison. It does not allocate.
func LookupKey(name []byte) (Key, bool) {
	if len(name) < 2 {
		return 0, false
	}
	k := keyTable[keyHash(name, keyMul)]
	if k < NumKeys && string(name) == KeyNames[k] {
		return k, true
	}
	return 0, false
}

const keyTableBits = 7

var (
	keyTable [1 << keyTableBits]Key
	keyMul   uint32
)

func keyHash(name []byte, mul uint32) uint32 {
	x := uint32(name[0]) | uint32(name[1])<<8 | uint32(name[len(name)-1])<<16 | uint32(len(name))<<24
	return (x * mul) >> (32 - keyTableBits)
}

func init() {
	// Deterministic search over odd multipliers; the names are fixed, so
	// this finds the same table on every start (well under a millisecond).
search:
	for mul := uint32(0x9E3779B1); mul < 0x9E3779B1+1<<20; mul += 2 {
		for i := range keyTable {
			keyTable[i] = NumKeys
		}
		for k := Key(0); k < NumKeys; k++ {
			h := keyHash([]byte(KeyNames[k]), mul)
			if keyTable[h] != NumKeys {
				continue search
			}
			keyTable[h] = k
		}
		keyMul = mul
		return
	}
	panic("codec: no perfect hash for the key names; widen keyTableBits")
}
