package controller

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// A tenant's certificates. Every tenant has its own CAs (one for its API, one for its etcd), made
// here and kept in a Secret: a certificate of one tenant is worth nothing to another's API server
// or etcd. Keys are ECDSA P-256 (quick to make on a small control-plane node; kube-apiserver,
// etcd and kubectl all accept them).

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// A leaf closer than this to its end is issued again (each reconcile looks).
	leafRenewBefore = 30 * 24 * time.Hour
)

type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (k keyPair) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert.Raw})
}

func (k keyPair) keyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }

// sign makes a key and a certificate of it from tmpl, signed by parent (or by itself when parent
// is nil: a CA).
func sign(tmpl *x509.Certificate, parent *keyPair, now time.Time, validity time.Duration) (keyPair, error) {
	key, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return keyPair{}, err
	}
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Minute), now.Add(validity)
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return keyPair{}, err
	}
	cert, err := x509.ParseCertificate(der)
	return keyPair{cert: cert, key: key}, err
}

func newCA(commonName string, now time.Time) (keyPair, error) {
	return sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, now, caValidity)
}

// leafSpec is what a leaf certificate must say; a stored one that says otherwise is issued again.
type leafSpec struct {
	commonName   string
	organization []string
	dnsNames     []string
	ips          []net.IP
	usages       []x509.ExtKeyUsage
}

func issue(ca keyPair, spec leafSpec, now time.Time) (keyPair, error) {
	return sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: spec.commonName, Organization: spec.organization},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: spec.usages,
		DNSNames:    spec.dnsNames,
		IPAddresses: spec.ips,
	}, &ca, now, leafValidity)
}

// parseKeyPair reads a PEM certificate and PKCS#8 key as stored in a Secret.
func parseKeyPair(certPEM, keyPEM []byte) (keyPair, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return keyPair{}, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return keyPair{}, err
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return keyPair{}, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return keyPair{}, errors.New("the key cannot sign")
	}
	if !publicKeysEqual(cert.PublicKey, signer.Public()) {
		return keyPair{}, errors.New("the key is not the certificate's")
	}
	return keyPair{cert: cert, key: signer}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	x, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && x.Equal(b)
}

// leafStillGood says whether a stored leaf was signed by ca, says what spec says, and is not near
// its end: otherwise it is issued again.
func leafStillGood(leaf keyPair, ca keyPair, spec leafSpec, now time.Time) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	if _, err := leaf.cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: spec.usages, CurrentTime: now}); err != nil {
		return fmt.Errorf("does not verify against the CA: %w", err)
	}
	if now.Add(leafRenewBefore).After(leaf.cert.NotAfter) {
		return fmt.Errorf("ends %s", leaf.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.cert.Subject.CommonName != spec.commonName || !slices.Equal(leaf.cert.Subject.Organization, spec.organization) {
		return errors.New("names another subject")
	}
	if !slices.Equal(leaf.cert.DNSNames, spec.dnsNames) {
		return fmt.Errorf("DNS names %v, want %v", leaf.cert.DNSNames, spec.dnsNames)
	}
	if !slices.EqualFunc(leaf.cert.IPAddresses, spec.ips, func(a, b net.IP) bool { return a.Equal(b) }) {
		return fmt.Errorf("IP addresses %v, want %v", leaf.cert.IPAddresses, spec.ips)
	}
	return nil
}

// newServiceAccountKey is the key the tenant's API server signs service-account tokens with.
func newServiceAccountKey() (privPEM, pubPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), nil
}
