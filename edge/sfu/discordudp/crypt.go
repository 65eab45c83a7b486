package discordudp

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/nacl/secretbox"
)

// Encryption modes, in the order the server prefers them (Ready lists
// them so). The two rtpsize AEAD modes are Discord's current ones;
// xsalsa20_poly1305 is the legacy mode that Discord has retired but
// libraries such as discordgo v0.29 still send, kept so they work.
const (
	ModeAES256GCM = "aead_aes256_gcm_rtpsize"
	ModeXChaCha20 = "aead_xchacha20_poly1305_rtpsize"
	ModeXSalsa20  = "xsalsa20_poly1305"
)

// Modes lists the supported modes, preferred first.
var Modes = []string{ModeAES256GCM, ModeXChaCha20, ModeXSalsa20}

// ErrMode: the client asked for a mode this server does not speak.
var ErrMode = errors.New("discordudp: unknown encryption mode")

// errOpen: a packet did not decrypt (wrong key, forged, cut short).
var errOpen = errors.New("discordudp: packet does not decrypt")

const (
	headerLen  = 12 // RTP fixed header
	nonceLen   = 4  // the rtpsize modes' counter appended to a packet
	opusPT     = 120
	maxPacket  = 1500
	discovery  = 74 // an IP discovery packet
	stunCookie = 0x2112A442
)

// cryptor seals and opens one session's packets. It is immutable after
// newCryptor and safe for concurrent use.
type cryptor struct {
	mode string
	aead cipher.AEAD // rtpsize modes
	key  [32]byte    // xsalsa20
}

func newCryptor(mode string, key [32]byte) (*cryptor, error) {
	c := &cryptor{mode: mode, key: key}
	switch mode {
	case ModeAES256GCM:
		b, err := aes.NewCipher(key[:])
		if err != nil {
			return nil, err
		}
		if c.aead, err = cipher.NewGCM(b); err != nil {
			return nil, err
		}
	case ModeXChaCha20:
		var err error
		if c.aead, err = chacha20poly1305.NewX(key[:]); err != nil {
			return nil, err
		}
	case ModeXSalsa20:
	default:
		return nil, fmt.Errorf("%w %q", ErrMode, mode)
	}
	return c, nil
}

// overhead is what sealing adds to a payload besides the header.
func (c *cryptor) overhead() int {
	if c.aead == nil {
		return secretbox.Overhead
	}
	return c.aead.Overhead() + nonceLen
}

// seal appends to dst the packet header+sealed payload (and, in the
// rtpsize modes, the counter the nonce is made of). nonce is scratch
// space the caller owns (kept off the stack: the AEAD interface would
// move it to the heap on every call).
func (c *cryptor) seal(dst []byte, nonce *[24]byte, header, payload []byte, counter uint32) []byte {
	dst = append(dst, header...)
	clear(nonce[:])
	if c.aead == nil {
		copy(nonce[:], header)
		return secretbox.Seal(dst, payload, nonce, &c.key)
	}
	binary.BigEndian.PutUint32(nonce[:], counter)
	dst = c.aead.Seal(dst, nonce[:c.aead.NonceSize()], payload, header)
	return binary.BigEndian.AppendUint32(dst, counter)
}

// open decrypts pkt into dst and returns the RTP payload (the header
// extension's body, which the rtpsize modes encrypt, cut off); nonce is
// scratch space as in seal.
func (c *cryptor) open(dst []byte, nonce *[24]byte, pkt []byte) (payload []byte, err error) {
	if len(pkt) < headerLen {
		return nil, errOpen
	}
	hl := headerLen + 4*int(pkt[0]&0x0f) // CSRCs
	ext := pkt[0]&0x10 != 0
	if c.aead == nil {
		if len(pkt) < hl+secretbox.Overhead {
			return nil, errOpen
		}
		clear(nonce[:])
		copy(nonce[:], pkt[:headerLen])
		out, ok := secretbox.Open(dst[:0], pkt[headerLen:], nonce, &c.key)
		if !ok {
			return nil, errOpen
		}
		// Legacy mode encrypts CSRCs and extension with the payload.
		return skipExtension(out[hl-headerLen:], ext)
	}
	if ext {
		hl += 4 // the extension's profile and length stay in the clear
	}
	if len(pkt) < hl+c.aead.Overhead()+nonceLen {
		return nil, errOpen
	}
	clear(nonce[:])
	copy(nonce[:], pkt[len(pkt)-nonceLen:])
	out, err := c.aead.Open(dst[:0], nonce[:c.aead.NonceSize()], pkt[hl:len(pkt)-nonceLen], pkt[:hl])
	if err != nil {
		return nil, errOpen
	}
	if !ext {
		return out, nil
	}
	words := int(binary.BigEndian.Uint16(pkt[hl-2 : hl]))
	if len(out) < 4*words {
		return nil, errOpen
	}
	return out[4*words:], nil
}

// skipExtension cuts a header extension (profile, length, body) off the
// front of b, when the header says there is one.
func skipExtension(b []byte, ext bool) ([]byte, error) {
	if !ext {
		return b, nil
	}
	if len(b) < 4 {
		return nil, errOpen
	}
	words := int(binary.BigEndian.Uint16(b[2:4]))
	if len(b) < 4+4*words {
		return nil, errOpen
	}
	return b[4+4*words:], nil
}
