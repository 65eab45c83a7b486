package store

import "errors"

// ErrNotFound is returned by lookups of something that does not exist.
var ErrNotFound = errors.New("not found")

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("store closed")
