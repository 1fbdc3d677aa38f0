// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package argon2 is golang.org/x/crypto/argon2's Argon2id (version 0x13,
// parallelism 1, as WAMP-SCRAM fixes it), copied from x/crypto v0.58.0
// (BSD licence: LICENSE; the SSE4 assembly and blake2b glue unchanged)
// with two changes for a router that checks argon2id tickets on its auth
// workers:
//
//   - the block memory (the memory cost: 8 MiB and more per hash) is
//     reused from one hash to the next instead of allocated per hash: at
//     200 logins/s x/crypto's IDKey allocated 1.6 GB/s, which ran the
//     garbage collector ~120 times a second and cost an established
//     stream's latency more than the hashing itself (bench/README.md);
//     the first pass writes every block instead of XORing into zeroed
//     memory, so a reused buffer needs no clearing;
//   - the hash yields the processor (runtime.Gosched) every yieldBlocks
//     blocks (~0.1 ms), so a worker hashing does not hold a P for
//     milliseconds while goroutines the pollers readied wait for one.
//
// TestIDKeyMatchesXCrypto checks every output against x/crypto's.
package argon2

import (
	"encoding/binary"
	"runtime"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// Version is the Argon2 version implemented by this package.
const Version = 0x13

// Argon2 modes (only argon2id is used).
const (
	argon2d = iota
	argon2i
	argon2id
)

// yieldBlocks is how many blocks are computed between two yields (a block
// takes ~0.5 µs).
const yieldBlocks = 256

// Pool bounds of the reused block memory: at most poolBuffers buffers are
// kept, each of at most poolMaxKiB (larger memory costs are allocated per
// hash and left to the GC).
const (
	poolBuffers = 4
	poolMaxKiB  = 64 << 10
)

var pool struct {
	mu   sync.Mutex
	bufs [][]block
}

// getBlocks returns n blocks of unspecified content.
func getBlocks(n uint32) []block {
	pool.mu.Lock()
	for i, b := range pool.bufs {
		if uint32(cap(b)) >= n {
			last := len(pool.bufs) - 1
			pool.bufs[i] = pool.bufs[last]
			pool.bufs[last] = nil
			pool.bufs = pool.bufs[:last]
			pool.mu.Unlock()
			return b[:n]
		}
	}
	pool.mu.Unlock()
	return make([]block, n)
}

// putBlocks keeps b for a later hash if the pool has room, replacing a
// smaller buffer if it is full.
func putBlocks(b []block) {
	if cap(b) > poolMaxKiB {
		return
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if len(pool.bufs) < poolBuffers {
		pool.bufs = append(pool.bufs, b)
		return
	}
	for i, old := range pool.bufs {
		if cap(old) < cap(b) {
			pool.bufs[i] = b
			return
		}
	}
}

// IDKey is x/crypto's argon2.IDKey(password, salt, time, memory, 1,
// keyLen): Argon2id with time passes over memory KiB.
func IDKey(password, salt []byte, time, memory uint32, keyLen uint32) []byte {
	if time < 1 {
		panic("argon2: number of rounds too small")
	}
	const threads = 1
	h0 := initHash(password, salt, nil, nil, time, memory, threads, keyLen, argon2id)

	memory = memory / (syncPoints * threads) * (syncPoints * threads)
	if memory < 2*syncPoints*threads {
		memory = 2 * syncPoints * threads
	}
	B := getBlocks(memory)
	defer putBlocks(B)
	initBlocks(B, &h0, memory, threads)
	processBlocks(B, time, memory, threads, argon2id)
	return extractKey(B, memory, threads, keyLen)
}

const (
	blockLength = 128
	syncPoints  = 4
)

type block [blockLength]uint64

func initHash(password, salt, key, data []byte, time, memory, threads, keyLen uint32, mode int) [blake2b.Size + 8]byte {
	var (
		h0     [blake2b.Size + 8]byte
		params [24]byte
		tmp    [4]byte
	)

	b2, _ := blake2b.New512(nil)
	binary.LittleEndian.PutUint32(params[0:4], threads)
	binary.LittleEndian.PutUint32(params[4:8], keyLen)
	binary.LittleEndian.PutUint32(params[8:12], memory)
	binary.LittleEndian.PutUint32(params[12:16], time)
	binary.LittleEndian.PutUint32(params[16:20], uint32(Version))
	binary.LittleEndian.PutUint32(params[20:24], uint32(mode))
	b2.Write(params[:])
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(password)))
	b2.Write(tmp[:])
	b2.Write(password)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(salt)))
	b2.Write(tmp[:])
	b2.Write(salt)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(key)))
	b2.Write(tmp[:])
	b2.Write(key)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(data)))
	b2.Write(tmp[:])
	b2.Write(data)
	b2.Sum(h0[:0])
	return h0
}

func initBlocks(B []block, h0 *[blake2b.Size + 8]byte, memory, threads uint32) {
	var block0 [1024]byte
	for lane := uint32(0); lane < threads; lane++ {
		j := lane * (memory / threads)
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], lane)

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 0)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+0] {
			B[j+0][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 1)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+1] {
			B[j+1][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}
	}
}

// processBlocks runs the passes; with one lane, each segment runs on the
// calling goroutine (x/crypto starts a goroutine per lane and segment).
func processBlocks(B []block, time, memory, threads uint32, mode int) {
	lanes := memory / threads
	segments := lanes / syncPoints

	processSegment := func(n, slice, lane uint32) {
		var addresses, in, zero block
		if mode == argon2i || (mode == argon2id && n == 0 && slice < syncPoints/2) {
			in[0] = uint64(n)
			in[1] = uint64(lane)
			in[2] = uint64(slice)
			in[3] = uint64(memory)
			in[4] = uint64(time)
			in[5] = uint64(mode)
		}

		index := uint32(0)
		if n == 0 && slice == 0 {
			index = 2 // we have already generated the first two blocks
			if mode == argon2i || mode == argon2id {
				in[6]++
				processBlock(&addresses, &in, &zero)
				processBlock(&addresses, &addresses, &zero)
			}
		}

		offset := lane*lanes + slice*segments + index
		var random uint64
		for index < segments {
			prev := offset - 1
			if index == 0 && slice == 0 {
				prev += lanes // last block in lane
			}
			if mode == argon2i || (mode == argon2id && n == 0 && slice < syncPoints/2) {
				if index%blockLength == 0 {
					in[6]++
					processBlock(&addresses, &in, &zero)
					processBlock(&addresses, &addresses, &zero)
				}
				random = addresses[index%blockLength]
			} else {
				random = B[prev][0]
			}
			newOffset := indexAlpha(random, lanes, segments, threads, n, slice, lane, index)
			if n == 0 {
				// x/crypto XORs into zeroed memory; the memory
				// here is reused, so the first pass writes.
				processBlock(&B[offset], &B[prev], &B[newOffset])
			} else {
				processBlockXOR(&B[offset], &B[prev], &B[newOffset])
			}
			index, offset = index+1, offset+1
			if index%yieldBlocks == 0 {
				runtime.Gosched()
			}
		}
	}

	for n := uint32(0); n < time; n++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			for lane := uint32(0); lane < threads; lane++ {
				processSegment(n, slice, lane)
			}
		}
	}
}

func extractKey(B []block, memory, threads, keyLen uint32) []byte {
	lanes := memory / threads
	for lane := uint32(0); lane < threads-1; lane++ {
		for i, v := range B[(lane*lanes)+lanes-1] {
			B[memory-1][i] ^= v
		}
	}

	var block [1024]byte
	for i, v := range B[memory-1] {
		binary.LittleEndian.PutUint64(block[i*8:], v)
	}
	key := make([]byte, keyLen)
	blake2bHash(key, block[:])
	return key
}

func indexAlpha(rand uint64, lanes, segments, threads, n, slice, lane, index uint32) uint32 {
	refLane := uint32(rand>>32) % threads
	if n == 0 && slice == 0 {
		refLane = lane
	}
	m, s := 3*segments, ((slice+1)%syncPoints)*segments
	if lane == refLane {
		m += index
	}
	if n == 0 {
		m, s = slice*segments, 0
		if slice == 0 || lane == refLane {
			m += index
		}
	}
	if index == 0 || lane == refLane {
		m--
	}
	return phi(rand, uint64(m), uint64(s), refLane, lanes)
}

func phi(rand, m, s uint64, lane, lanes uint32) uint32 {
	p := rand & 0xFFFFFFFF
	p = (p * p) >> 32
	p = (p * m) >> 32
	return lane*lanes + uint32((s+m-(p+1))%uint64(lanes))
}
