package storetest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/accord-chat/accord/core/store"
)

// testFiles: files of every size around the chunk boundary come back
// byte for byte, whole and from any offset; a missing file is
// ErrNotFound; a replaced file shrinks; a deleted one is gone.
func testFiles(t *testing.T, s store.Store) {
	const ch = ID(70_000)
	rng := rand.New(rand.NewPCG(7, 7))
	sizes := []int{0, 1, 1000, store.FileChunk - 1, store.FileChunk, store.FileChunk + 1, 3*store.FileChunk + 17}
	files := map[ID][]byte{}
	for i, n := range sizes {
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		id := ID(70_100 + i)
		files[id] = data
		got, err := s.PutFile(ctx(t), ch, id, bytes.NewReader(data))
		if err != nil || got != int64(n) {
			t.Fatalf("PutFile of %d bytes: %d, %v", n, got, err)
		}
	}
	for id, data := range files {
		size, err := s.FileSize(ctx(t), ch, id)
		if err != nil || size != int64(len(data)) {
			t.Fatalf("FileSize(%d) = %d, %v; want %d", id, size, err, len(data))
		}
		whole, err := io.ReadAll(io.NewSectionReader(readerAt{s, t, id}, 0, size))
		if err != nil || !bytes.Equal(whole, data) {
			t.Fatalf("file %d (%d bytes): read %d bytes back, %v", id, len(data), len(whole), err)
		}
		for _, off := range []int64{0, 1, store.FileChunk - 3, store.FileChunk, size - 1, size} {
			if off < 0 || off > size {
				continue
			}
			p := make([]byte, 10)
			n, err := s.ReadFileAt(ctx(t), ch, id, p, off)
			want := data[off:min(off+10, size)]
			if !bytes.Equal(p[:n], want) || (n < len(p) && !errors.Is(err, io.EOF)) || (n == len(p) && err != nil) {
				t.Fatalf("file %d: ReadFileAt(off %d) = %d bytes %v; want %d bytes (EOF when short)", id, off, n, err, len(want))
			}
		}
	}
	if _, err := s.FileSize(ctx(t), ch, 70_999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FileSize of a missing file: %v, want ErrNotFound", err)
	}
	big := ID(70_100 + len(sizes) - 1)
	if _, err := s.PutFile(ctx(t), ch, big, bytes.NewReader([]byte("small now"))); err != nil {
		t.Fatal(err)
	}
	if size, _ := s.FileSize(ctx(t), ch, big); size != 9 {
		t.Fatalf("a replaced file has size %d, want 9", size)
	}
	p := make([]byte, 20)
	if n, err := s.ReadFileAt(ctx(t), ch, big, p, 0); n != 9 || string(p[:n]) != "small now" || !errors.Is(err, io.EOF) {
		t.Fatalf("replaced file reads %q, %v", p[:n], err)
	}
	if err := s.DeleteFile(ctx(t), ch, big); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FileSize(ctx(t), ch, big); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FileSize after DeleteFile: %v, want ErrNotFound", err)
	}
	if err := s.DeleteFile(ctx(t), ch, 70_999); err != nil {
		t.Fatalf("DeleteFile of a missing file: %v", err)
	}
}

type readerAt struct {
	s  store.Store
	t  *testing.T
	id ID
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	return r.s.ReadFileAt(ctx(r.t), 70_000, r.id, p, off)
}
