package secret

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswords(t *testing.T) {
	BcryptCost = bcrypt.MinCost
	long := strings.Repeat("x", 100)
	for _, pw := range []string{"hunter22", long} {
		h, err := HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h, pw) {
			t.Fatal("hash contains password")
		}
		if err := CheckPassword(h, pw); err != nil {
			t.Fatalf("right password rejected: %v", err)
		}
		if err := CheckPassword(h, pw+"y"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	// Bytes past bcrypt's 72 must still count.
	h, _ := HashPassword(long)
	if CheckPassword(h, strings.Repeat("x", 99)+"y") == nil {
		t.Fatal("byte 100 ignored")
	}
}

func TestTokens(t *testing.T) {
	a, da := NewToken(42, time.Unix(1700000000, 0))
	b, db := NewToken(42, time.Unix(1700000000, 0))
	if a == b || string(da) == string(db) {
		t.Fatal("tokens not random")
	}
	if len(strings.Split(a, ".")) != 3 {
		t.Fatalf("token shape %q", a)
	}
	if string(Digest(a)) != string(da) {
		t.Fatal("digest mismatch")
	}
}
