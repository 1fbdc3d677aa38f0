package trie

import "strings"

// Prefix and wildcard patterns live in two byte-level radix trees of
// immutable nodes. A writer never changes a published node: it copies the
// nodes on the path from the root to the change and publishes the new root
// with one atomic store (path copying), so a reader that loaded a root walks
// one complete version of the tree however long it takes.
//
// A node is entered by consuming its label, literally. The wildcard tree
// adds one more edge: wild, which consumes one whole non-empty URI
// component. A wildcard pattern is stored as its literal runs with a wild
// edge for every empty component: "com..topic" is "com." wild ".topic",
// "a." is "a." wild, "" is wild, "." is wild "." wild. Wild edges start only
// where a component starts, so a node with a wild child always sits at a
// component boundary.
//
// Fan-out is bounded by 256 (children are keyed by the first byte of their
// label), so copying a node is cheap no matter how many patterns share a
// parent. That bound is why the trees are byte-level rather than keyed by
// whole components: a component-level node under "com.myapp." with 100k
// children would make every copy-on-write update O(100k).
type node[V comparable] struct {
	label string     // bytes consumed on entering; "" only for roots and wild nodes
	idx   string     // idx[i] is kids[i].label[0]; sorted
	kids  []*node[V] // literal children
	wild  *node[V]   // child entered by consuming one component (wildcard tree only)
	e     *entry[V]  // the pattern that ends here, if any
}

func (n *node[V]) empty() bool {
	return n.e == nil && n.wild == nil && len(n.kids) == 0
}

func (n *node[V]) clone() *node[V] {
	c := *n
	c.kids = append([]*node[V](nil), n.kids...)
	return &c
}

// kid returns the literal child whose label starts with b, or nil.
func (n *node[V]) kid(b byte) *node[V] {
	if i := strings.IndexByte(n.idx, b); i >= 0 && i < len(n.kids) {
		return n.kids[i]
	}
	return nil
}

// hasLabel reports whether s starts with label.
func hasLabel(s []byte, label string) bool {
	return len(s) >= len(label) && string(s[:len(label)]) == label
}

// wildAt reports whether an empty component starts at offset k of pattern p.
func wildAt(p []byte, k int) bool {
	return (k == 0 || p[k-1] == '.') && (k == len(p) || p[k] == '.')
}

// nextWild returns the first offset >= from where an empty component starts
// (wild) or, if there is none, len(p): where the literal run that goes on
// at from ends.
func nextWild(p []byte, from int) (end int, wild bool) {
	for k := from; k <= len(p); k++ {
		if wildAt(p, k) {
			return k, true
		}
	}
	return len(p), false
}

// tok is one step of a stored pattern: a literal run or a wild edge.
type tok struct {
	lit  string
	wild bool
}

// tokens splits a pattern into steps. Literal runs are the bytes between
// consecutive empty components; empty runs are dropped.
func tokens(p []byte, wildcard bool) []tok {
	if !wildcard {
		if len(p) == 0 {
			return nil
		}
		return []tok{{lit: string(p)}}
	}
	var ts []tok
	pos, from := 0, 0
	for {
		end, wild := nextWild(p, from)
		if end > pos {
			ts = append(ts, tok{lit: string(p[pos:end])})
		}
		if !wild {
			return ts
		}
		ts = append(ts, tok{wild: true})
		pos, from = end, end+1
	}
}

// descend follows literal labels for all of lit and returns the node where
// lit ends, or nil if it ends inside a label or leaves the tree.
func (n *node[V]) descend(lit []byte) *node[V] {
	for len(lit) > 0 && n != nil {
		k := n.kid(lit[0])
		if k == nil || !hasLabel(lit, k.label) {
			return nil
		}
		lit = lit[len(k.label):]
		n = k
	}
	return n
}

// lookup returns the entry stored for exactly pattern p, or nil. Zero
// allocations.
func (n *node[V]) lookup(p []byte, wildcard bool) *entry[V] {
	if !wildcard {
		if n = n.descend(p); n == nil {
			return nil
		}
		return n.e
	}
	pos, from := 0, 0
	for {
		end, wild := nextWild(p, from)
		if n = n.descend(p[pos:end]); n == nil {
			return nil
		}
		if !wild {
			return n.e
		}
		if n = n.wild; n == nil {
			return nil
		}
		pos, from = end, end+1
	}
}

// put returns a copy of n in which the pattern ts (with the first off bytes
// of ts[0] already consumed) leads to e, or to nothing if e is nil. n itself
// is not modified. changed is false when the result would equal n (a
// removal of an absent pattern); then n is returned.
func put[V comparable](n *node[V], ts []tok, off int, e *entry[V]) (out *node[V], changed bool) {
	if len(ts) > 0 && !ts[0].wild && off == len(ts[0].lit) {
		ts, off = ts[1:], 0
	}
	if len(ts) == 0 {
		if e == nil && n.e == nil {
			return n, false
		}
		c := n.clone()
		c.e = e
		return c, true
	}
	if ts[0].wild {
		w := n.wild
		if w == nil {
			if e == nil {
				return n, false
			}
			w = &node[V]{}
		}
		nw, ok := put(w, ts[1:], 0, e)
		if !ok {
			return n, false
		}
		c := n.clone()
		c.wild = nw
		if nw.empty() {
			c.wild = nil
		}
		return c, true
	}
	s := ts[0].lit[off:]
	i := strings.IndexByte(n.idx, s[0])
	if i < 0 {
		if e == nil {
			return n, false
		}
		leaf, _ := put(&node[V]{label: s}, ts[1:], 0, e)
		c := n.clone()
		c.addKid(leaf)
		return c, true
	}
	k := n.kids[i]
	m := commonPrefix(k.label, s)
	if m < len(k.label) {
		if e == nil {
			return n, false
		}
		// Split k's label at m: a new middle node takes the common part.
		lower := *k
		lower.label = k.label[m:]
		mid := &node[V]{label: k.label[:m], idx: lower.label[:1], kids: []*node[V]{&lower}}
		nm, _ := put(mid, ts, off+m, e)
		c := n.clone()
		c.kids[i] = nm
		return c, true
	}
	nk, ok := put(k, ts, off+m, e)
	if !ok {
		return n, false
	}
	c := n.clone()
	if nk.empty() {
		c.kids = append(c.kids[:i], c.kids[i+1:]...)
		c.idx = c.idx[:i] + c.idx[i+1:]
	} else {
		c.kids[i] = nk.merged()
	}
	return c, true
}

// addKid inserts k keeping idx sorted. n must be a private copy.
func (n *node[V]) addKid(k *node[V]) {
	b := k.label[0]
	i := 0
	for i < len(n.idx) && n.idx[i] < b {
		i++
	}
	n.idx = n.idx[:i] + k.label[:1] + n.idx[i:]
	n.kids = append(n.kids, nil)
	copy(n.kids[i+1:], n.kids[i:])
	n.kids[i] = k
}

// merged restores path compression after a removal: a literal child left
// with no entry, no wild edge and a single child is fused with that child.
func (n *node[V]) merged() *node[V] {
	if n.e != nil || n.wild != nil || len(n.kids) != 1 {
		return n
	}
	k := n.kids[0]
	m := *k
	m.label = n.label + k.label
	return &m
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// collector gathers matches for Match and Best without allocating: values
// go to dst, and the first maxCached entries are kept for the match cache.
type collector[V comparable] struct {
	dst    []V
	ents   [maxCached]*entry[V]
	n      int  // matches seen (may exceed maxCached)
	np     int  // how many of them were prefix matches
	best   bool // Best mode: no dst; stop the wildcard walk early when possible
	lastP  *entry[V]
	firstW *entry[V]
}

func (c *collector[V]) add(e *entry[V]) {
	if !c.best {
		c.dst = append(c.dst, e.val)
	}
	if c.n < maxCached {
		c.ents[c.n] = e
	}
	c.n++
}

// cacheable reports whether ents holds the complete result.
func (c *collector[V]) cacheable() bool { return c.n <= maxCached }

// matchPrefix adds, shortest first, every prefix pattern that uri starts
// with. The walk visits at most len(uri)+1 nodes.
func matchPrefix[V comparable](n *node[V], uri []byte, c *collector[V]) {
	pos := 0
	for {
		if n.e != nil {
			c.add(n.e)
			c.np++
			c.lastP = n.e
		}
		if pos >= len(uri) {
			return
		}
		k := n.kid(uri[pos])
		if k == nil || !hasLabel(uri[pos:], k.label) {
			return
		}
		pos += len(k.label)
		n = k
	}
}

// matchWild adds every wildcard pattern matching uri[pos:] below n, which
// has consumed uri[:pos]. The literal child is tried before the wild edge,
// which makes the first match found the one the spec ranks best for
// registrations (see Best). It returns true to stop early (Best mode only).
//
// Work is bounded by the number of tree nodes whose path matches some
// prefix of uri — the partial matches — not by the number of patterns.
func matchWild[V comparable](n *node[V], uri []byte, pos int, c *collector[V]) bool {
	if pos >= len(uri) {
		if n.e != nil {
			if c.firstW == nil {
				c.firstW = n.e
			}
			c.add(n.e)
			return c.best && !c.cacheable()
		}
		return false
	}
	if k := n.kid(uri[pos]); k != nil && hasLabel(uri[pos:], k.label) {
		if matchWild(k, uri, pos+len(k.label), c) {
			return true
		}
	}
	if n.wild != nil && uri[pos] != '.' && (pos == 0 || uri[pos-1] == '.') {
		end := pos + 1
		for end < len(uri) && uri[end] != '.' {
			end++
		}
		return matchWild(n.wild, uri, end, c)
	}
	return false
}

// each calls fn for every entry below n until fn returns false.
func (n *node[V]) each(fn func(e *entry[V]) bool) bool {
	if n.e != nil && !fn(n.e) {
		return false
	}
	for _, k := range n.kids {
		if !k.each(fn) {
			return false
		}
	}
	if n.wild != nil {
		return n.wild.each(fn)
	}
	return true
}
