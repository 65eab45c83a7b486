package cassandra

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/accord-chat/accord/core/store"
)

const (
	qPutFileChunk = `INSERT INTO files (channel_id, file_id, chunk, data) VALUES (?, ?, ?, ?)`
	qPutFileSize  = `INSERT INTO files (channel_id, file_id, size) VALUES (?, ?, ?)`
	qFileSize     = `SELECT size FROM files WHERE channel_id = ? AND file_id = ? LIMIT 1`
	qFileChunk    = `SELECT data FROM files WHERE channel_id = ? AND file_id = ? AND chunk = ?`
	qDeleteFile   = `DELETE FROM files WHERE channel_id = ? AND file_id = ?`
)

// PutFile writes the chunks one by one, then the size: a reader that
// finds the size finds every chunk (each write is at the session's
// consistency, LOCAL_QUORUM, and the size is written after them all).
func (s *Store) PutFile(ctx context.Context, channelID, fileID store.ID, r io.Reader) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	// A replaced file may have had more chunks; its old size must not
	// vouch for the new ones while they are written.
	if err := s.DeleteFile(ctx, channelID, fileID); err != nil {
		return 0, err
	}
	ch, id := sid(channelID), sid(fileID)
	buf := make([]byte, store.FileChunk)
	var size int64
	for chunk := 0; ; chunk++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if err := s.sess.Query(qPutFileChunk, ch, id, chunk, buf[:n]).WithContext(ctx).Exec(); err != nil {
				return 0, wrap(err, "put file %d/%d chunk %d", channelID, fileID, chunk)
			}
			size += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("cassandra: put file %d/%d: read: %w", channelID, fileID, err)
		}
	}
	if err := s.sess.Query(qPutFileSize, ch, id, size).WithContext(ctx).Exec(); err != nil {
		return 0, wrap(err, "put file %d/%d size", channelID, fileID)
	}
	return size, nil
}

func (s *Store) FileSize(ctx context.Context, channelID, fileID store.ID) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	var size *int64
	if err := s.sess.Query(qFileSize, sid(channelID), sid(fileID)).WithContext(ctx).Scan(&size); err != nil {
		return 0, wrap(err, "file size %d/%d", channelID, fileID)
	}
	if size == nil { // chunks without their size: an unfinished PutFile
		return 0, wrap(store.ErrNotFound, "file size %d/%d", channelID, fileID)
	}
	return *size, nil
}

func (s *Store) ReadFileAt(ctx context.Context, channelID, fileID store.ID, p []byte, off int64) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("cassandra: read file %d/%d at %d: negative offset", channelID, fileID, off)
	}
	read := 0
	for read < len(p) {
		pos := off + int64(read)
		chunk, within := int(pos/store.FileChunk), int(pos%store.FileChunk)
		var data []byte
		err := s.sess.Query(qFileChunk, sid(channelID), sid(fileID), chunk).WithContext(ctx).Scan(&data)
		if err != nil {
			err = wrap(err, "read file %d/%d chunk %d", channelID, fileID, chunk)
			if errors.Is(err, store.ErrNotFound) {
				return read, io.EOF
			}
			return read, err
		}
		if within >= len(data) {
			return read, io.EOF
		}
		read += copy(p[read:], data[within:])
	}
	return read, nil
}

func (s *Store) DeleteFile(ctx context.Context, channelID, fileID store.ID) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return wrap(s.sess.Query(qDeleteFile, sid(channelID), sid(fileID)).WithContext(ctx).Exec(), "delete file %d/%d", channelID, fileID)
}
