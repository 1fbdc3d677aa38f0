package netpoll

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestBlockingWriterLifecycle checks that a blocking connection's writer
// goroutine exists only while output is pending: none before the first
// write, one while the peer has not taken the bytes, none once drained,
// a new one for the next write and for close (which closes the socket
// after sending what is queued); after a failed write the connection is
// closed and further writes are refused.
func TestBlockingWriterLifecycle(t *testing.T) {
	a, b := net.Pipe() // synchronous: a Write blocks until the peer reads
	defer b.Close()
	w := &blockingWriter{nc: a, c: &conn{}}
	state := func() (running bool, pending bool) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.running, w.pend != nil
	}
	waitIdle := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if r, p := state(); !r && !p {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("writer goroutine still running with nothing pending")
			}
			time.Sleep(time.Millisecond)
		}
	}
	read := func(n int) string {
		t.Helper()
		_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, n)
		if _, err := io.ReadFull(b, buf); err != nil {
			t.Fatal(err)
		}
		return string(buf)
	}
	if r, _ := state(); r {
		t.Fatal("writer running before any output")
	}
	if err := w.write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if r, _ := state(); !r {
		t.Fatal("no writer for pending output")
	}
	// The peer has not read: the writer is blocked in Write, and more
	// output queues behind it.
	if err := w.write([]byte(" world")); err != nil {
		t.Fatal(err)
	}
	if got := read(11); got != "hello world" {
		t.Fatalf("peer read %q", got)
	}
	waitIdle()
	if got := w.c.written.Load(); got != 11 {
		t.Fatalf("written %d, want 11", got)
	}
	// A second burst starts a new writer.
	if err := w.write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	if got := read(5); got != "again" {
		t.Fatalf("peer read %q", got)
	}
	waitIdle()
	// close sends what is queued, then closes.
	_ = w.write([]byte("bye"))
	_ = w.close()
	if got := read(3); got != "bye" {
		t.Fatalf("peer read %q", got)
	}
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after close the peer read %v, want EOF", err)
	}
	waitIdle()
	if err := w.write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}

	// A failed write closes the connection and refuses later writes.
	c, d := net.Pipe()
	w2 := &blockingWriter{nc: c, c: &conn{}}
	_ = d.Close()
	_ = w2.write([]byte("lost"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		w2.mu.Lock()
		dead, running := w2.dead, w2.running
		w2.mu.Unlock()
		if dead && !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("failed write did not end the writer")
		}
		time.Sleep(time.Millisecond)
	}
	if err := w2.write([]byte("more")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after a failed write: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("socket not closed after a failed write: %v", err)
	}
}
