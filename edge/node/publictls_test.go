package node

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/accord-chat/accord/internal/config"
)

// TestPublicListenerSpeaksBoth: without an operator certificate the
// public port answers plain HTTP and TLS (with the development
// certificate, which a client can trust by its file); with one it
// answers TLS only.
func TestPublicListenerSpeaksBoth(t *testing.T) {
	cfg := config.Default()
	cfg.Data, cfg.Listen, cfg.PublicURL = t.TempDir(), "127.0.0.1:0", "http://chat.example.test:8080"
	conf, plainToo, err := publicTLS(cfg)
	if err != nil || !plainToo {
		t.Fatalf("publicTLS: %v, plain too %v", err, plainToo)
	}
	pemFile := filepath.Join(cfg.Data, "tls", "public.pem")
	pool := x509.NewCertPool()
	if raw, err := os.ReadFile(pemFile); err != nil || !pool.AppendCertsFromPEM(raw) {
		t.Fatalf("development certificate %s: %v", pemFile, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(sniffListener{Listener: ln, conf: conf})
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	get := func(c *http.Client, url string) error {
		res, err := c.Get(url)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if string(b) != "hi" {
			t.Errorf("%s: %q", url, b)
		}
		return nil
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, url := range []string{
		"http://127.0.0.1:" + itoa(port) + "/",
		"https://127.0.0.1:" + itoa(port) + "/",
		"https://localhost:" + itoa(port) + "/",
	} {
		if err := get(trusting, url); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
	if err := get(http.DefaultClient, "https://127.0.0.1:"+itoa(port)+"/"); err == nil {
		t.Error("a client that does not trust the development certificate connected")
	}
	// The public URL's host is in the certificate; a new one makes a new
	// certificate at the next start.
	leaf, _ := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	if leaf.VerifyHostname("chat.example.test") != nil {
		t.Errorf("certificate names %v %v, want the public URL's host", leaf.DNSNames, leaf.IPAddresses)
	}
	cfg.PublicURL = "http://other.example.test"
	conf2, _, err := publicTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if leaf2, _ := x509.ParseCertificate(conf2.Certificates[0].Certificate[0]); leaf2.VerifyHostname("other.example.test") != nil {
		t.Error("the certificate was not made again for a new public URL")
	}

	// The operator's certificate: TLS only.
	op := config.Default()
	op.Data = t.TempDir()
	op.PublicTLS.Cert, op.PublicTLS.Key = pemFile, filepath.Join(cfg.Data, "tls", "public-key.pem")
	if _, plain, err := publicTLS(op); err != nil || plain {
		t.Fatalf("operator certificate: %v, plain too %v", err, plain)
	}
	op.PublicTLS.Key = filepath.Join(op.Data, "missing.pem")
	if _, _, err := publicTLS(op); err == nil {
		t.Error("a missing key was accepted")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
