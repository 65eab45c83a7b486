package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/accord-chat/accord/core/store"
)

// A file is its chunks (store.FileChunk bytes each, the last shorter)
// under tFile, channel_id, file_id, chunk, and its size under the chunk
// number fileSizeChunk, written in the same batch: a file is there whole
// or not at all.
const fileSizeChunk = ^uint32(0)

func fileKey(channelID, fileID store.ID, chunk uint32) []byte {
	k := make([]byte, 1+8+8+4)
	k[0] = tFile
	binary.BigEndian.PutUint64(k[1:], uint64(channelID))
	binary.BigEndian.PutUint64(k[9:], uint64(fileID))
	binary.BigEndian.PutUint32(k[17:], chunk)
	return k
}

func (s *Store) PutFile(ctx context.Context, channelID, fileID store.ID, r io.Reader) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	// A replaced file may have had more chunks.
	if err := s.deleteFile(channelID, fileID); err != nil {
		return 0, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	buf := make([]byte, store.FileChunk)
	var size int64
	for chunk := uint32(0); ; chunk++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			_ = b.Set(fileKey(channelID, fileID, chunk), buf[:n], nil) // Set copies
			size += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("pebblestore: put file %d/%d: read: %w", channelID, fileID, err)
		}
	}
	var sz [8]byte
	binary.BigEndian.PutUint64(sz[:], uint64(size))
	_ = b.Set(fileKey(channelID, fileID, fileSizeChunk), sz[:], nil)
	if err := b.Commit(s.wopts); err != nil {
		return 0, fmt.Errorf("pebblestore: put file %d/%d: %w", channelID, fileID, err)
	}
	return size, nil
}

func (s *Store) FileSize(ctx context.Context, channelID, fileID store.ID) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	var size int64
	err := getValue(s.db, fileKey(channelID, fileID, fileSizeChunk), func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("size record of %d bytes", len(v))
		}
		size = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pebblestore: file size %d/%d: %w", channelID, fileID, err)
	}
	return size, nil
}

func (s *Store) ReadFileAt(ctx context.Context, channelID, fileID store.ID, p []byte, off int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("pebblestore: read file %d/%d at %d: negative offset", channelID, fileID, off)
	}
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	read := 0
	for read < len(p) {
		pos := off + int64(read)
		chunk, within := uint32(pos/store.FileChunk), int(pos%store.FileChunk)
		n := 0
		err := getValue(s.db, fileKey(channelID, fileID, chunk), func(v []byte) error {
			if within < len(v) {
				n = copy(p[read:], v[within:])
			}
			return nil
		})
		if errors.Is(err, store.ErrNotFound) || err == nil && n == 0 {
			return read, io.EOF
		}
		if err != nil {
			return read, fmt.Errorf("pebblestore: read file %d/%d: %w", channelID, fileID, err)
		}
		read += n
	}
	return read, nil
}

func (s *Store) DeleteFile(ctx context.Context, channelID, fileID store.ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.deleteFile(channelID, fileID)
}

func (s *Store) deleteFile(channelID, fileID store.ID) error {
	prefix := fileKey(channelID, fileID, 0)[:17]
	if err := s.db.DeleteRange(prefix, prefixEnd(prefix), s.wopts); err != nil {
		return fmt.Errorf("pebblestore: delete file %d/%d: %w", channelID, fileID, err)
	}
	return nil
}
