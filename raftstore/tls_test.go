package raftstore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDevCerts: certificates are created once and reused, carry the shared
// server name, and the CA is never replaced.
func TestDevCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	conf, err := LoadOrCreateDevCerts(dir, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if conf.ServerName != ServerName || conf.ClientCAs == nil || conf.MinVersion == 0 {
		t.Fatalf("config %+v", conf)
	}
	files := []string{"ca.pem", "ca-key.pem", "n1.pem", "n1-key.pem"}
	before := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}
	if fi, _ := os.Stat(filepath.Join(dir, "n1-key.pem")); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := LoadOrCreateDevCerts(dir, "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateDevCerts(dir, "n2"); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(b, before[f]) {
			t.Errorf("%s was rewritten", f)
		}
	}
	if err := GenerateCA(dir); err == nil {
		t.Error("GenerateCA replaced an existing CA")
	}

	block, _ := pem.Decode(before["n1.pem"])
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cert.DNSNames, ServerName) {
		t.Errorf("DNS names %v lack %s", cert.DNSNames, ServerName)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(before["ca.pem"])
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: ServerName, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("verify for %v: %v", usage, err)
		}
	}
	if err := GenerateNodeCert(dir, "../evil"); err == nil {
		t.Error("GenerateNodeCert accepted a path as a name")
	}
}
