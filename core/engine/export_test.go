package engine

// Exports for the package's external tests (golden entries, fuzzing).

// DecodeEntry decodes a log entry and returns its kind, its events and
// whether it re-encodes to the same bytes.
func DecodeEntry(data []byte) (kind int, events []Event, err error) {
	le, err := decodeEntry(data)
	if err != nil {
		return 0, nil, err
	}
	return int(le.Kind), le.decoded, nil
}

// ReencodeEntry decodes data and encodes it again in the current format.
func ReencodeEntry(data []byte) ([]byte, error) {
	le, err := decodeEntry(data)
	if err != nil {
		return nil, err
	}
	return encodeEntry(le)
}

// EntryVersion is the format version this binary writes.
const EntryVersion = entryVersion
