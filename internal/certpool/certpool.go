// Package certpool loads a private CA bundle next to the system roots, for
// a registry or an account API behind a company CA.
package certpool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// WithFile returns the system roots plus every certificate in the PEM file.
func WithFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
