package region_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"

	"github.com/accord-chat/accord/internal/accordtest"
)

// TestRegionAttachmentsOnEveryNode: a file uploaded through node 1 is
// served, byte for byte and by range, by nodes 2 and 3, and still after
// node 1 is killed: the bytes are in the core (Cassandra), not on the
// disk of the node that received them.
func TestRegionAttachmentsOnEveryNode(t *testing.T) {
	r := startRegion(t, 3)
	u := register(t, r.url(1), "uploader")
	g := mustAPI(t, r.url(1), "POST", "/guilds", u.token, map[string]any{"name": "files"}, 201)
	channel := firstTextChannel(t, r.url(1), u.token, g["id"].(string))

	data := make([]byte, 700<<10) // three chunks
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("payload_json", `{"content":"a file for every node"}`)
	fw, _ := mw.CreateFormFile("files[0]", "data.bin")
	_, _ = fw.Write(data)
	mw.Close()
	var att map[string]any
	accordtest.WaitFor(t, "the upload through node 1", func() bool {
		req, _ := http.NewRequest("POST", r.url(1)+"/api/v10/channels/"+channel+"/messages", bytes.NewReader(body.Bytes()))
		req.Header.Set("Authorization", u.token)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode == 503 { // an election under way: libraries retry
			return false
		}
		var m map[string]any
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("upload: %d %s", res.StatusCode, raw)
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		atts, _ := m["attachments"].([]any)
		if len(atts) != 1 {
			t.Fatalf("upload answered %s", raw)
		}
		att = atts[0].(map[string]any)
		return true
	})
	signed, err := url.Parse(att["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(node int, rng string) (int, []byte) {
		req, _ := http.NewRequest("GET", r.url(node)+signed.RequestURI(), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("node %d: %v", node, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	check := func(nodes ...int) {
		t.Helper()
		for _, n := range nodes {
			if status, b := fetch(n, ""); status != 200 || !bytes.Equal(b, data) {
				t.Fatalf("node %d served %d, %d bytes (want 200, the %d uploaded)", n, status, len(b), len(data))
			}
			lo, hi := 300_000, 600_000
			if status, b := fetch(n, fmt.Sprintf("bytes=%d-%d", lo, hi)); status != 206 || !bytes.Equal(b, data[lo:hi+1]) {
				t.Fatalf("node %d served the range as %d, %d bytes", n, status, len(b))
			}
		}
	}
	check(1, 2, 3)
	r.kill(1)
	check(2, 3)
	// Unsigned, the same path is nothing on any node.
	req, _ := http.NewRequest("GET", r.url(2)+signed.Path, nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 404 {
		t.Fatalf("unsigned on node 2: %v %v, want 404", res.StatusCode, err)
	}
}
