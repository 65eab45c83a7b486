package raftstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// ServerName is the DNS name every node certificate carries and every node
// verifies. Nodes are reached by IP or by names that change with the
// deployment, so peers prove membership of the region (a certificate from
// its CA) rather than a host identity.
const ServerName = "accord-node"

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	nodeValidity = 2 * 365 * 24 * time.Hour
)

// GenerateCA creates a region CA in dir as ca.pem and ca-key.pem. It
// refuses to replace an existing CA: every node certificate hangs on it.
func GenerateCA(dir string) error {
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("raftstore: %s exists; not replacing the CA", f)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("raftstore: CA key: %w", err)
	}
	tmpl, err := certTemplate("accord region CA", caValidity)
	if err != nil {
		return err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("raftstore: CA certificate: %w", err)
	}
	return writeKeyPair(dir, certFile, keyFile, der, key)
}

// GenerateNodeCert signs a certificate for node name with the CA in dir
// and writes it as <name>.pem and <name>-key.pem. The certificate serves
// as both server and client, with ServerName and name as DNS names.
func GenerateNodeCert(dir, name string) error {
	if name == "" || filepath.Base(name) != name || name == "ca" {
		return fmt.Errorf("raftstore: node name %q: want a plain file name other than ca", name)
	}
	caPair, err := tls.LoadX509KeyPair(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return fmt.Errorf("raftstore: load CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		return fmt.Errorf("raftstore: parse CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("raftstore: node key: %w", err)
	}
	tmpl, err := certTemplate(name, nodeValidity)
	if err != nil {
		return err
	}
	tmpl.DNSNames = []string{ServerName, name}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caPair.PrivateKey)
	if err != nil {
		return fmt.Errorf("raftstore: node certificate: %w", err)
	}
	return writeKeyPair(dir, filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"), der, key)
}

// LoadOrCreateDevCerts makes sure dir holds a CA and a certificate for
// node name, creating what is missing, and returns the node's TLS config.
// It is for development and single-host regions; a production region's CA
// key should not sit beside the nodes.
func LoadOrCreateDevCerts(dir, name string) (*tls.Config, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("raftstore: cert dir: %w", err)
	}
	ca := filepath.Join(dir, "ca.pem")
	if !exists(ca) {
		if err := GenerateCA(dir); err != nil {
			return nil, err
		}
	}
	cert, key := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if !exists(cert) || !exists(key) {
		if err := GenerateNodeCert(dir, name); err != nil {
			return nil, err
		}
	}
	return LoadTLS(ca, cert, key)
}

// LoadTLS returns the TLS config of a node, for both listening and
// dialing: TLS 1.3 only, the peer must present a certificate from the CA
// in caFile, and a server must hold the name ServerName.
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("raftstore: load key pair: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("raftstore: load CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("raftstore: load CA: no certificate in %s", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		RootCAs:      pool,
		ServerName:   ServerName,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

func certTemplate(cn string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("raftstore: serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Accord"}},
		NotBefore:    now.Add(-time.Hour), // tolerate clock skew between hosts
		NotAfter:     now.Add(validity),
	}, nil
}

// writeKeyPair writes both files through temporary names, so a crash
// never leaves a certificate without its key.
func writeKeyPair(dir, certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("raftstore: marshal key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("raftstore: cert dir: %w", err)
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("raftstore: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("raftstore: write %s: %w", path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
