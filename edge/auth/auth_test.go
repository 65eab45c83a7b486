package auth

import "testing"

func TestParseHeader(t *testing.T) {
	cases := []struct {
		in    string
		tok   string
		isBot bool
	}{
		{"abc", "abc", false},
		{"Bot abc", "abc", true},
		{"bot  abc ", "abc", true},
		{"Bearer xyz", "xyz", false},
		{"", "", false},
	}
	for _, c := range cases {
		tok, bot := ParseHeader(c.in)
		if tok != c.tok || bot != c.isBot {
			t.Errorf("ParseHeader(%q) = %q,%v want %q,%v", c.in, tok, bot, c.tok, c.isBot)
		}
	}
}
