package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir, returning the file paths by name.
func pki(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	write := func(name, typ string, der []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		files[name] = p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gpmd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(name+".pem", "CERTIFICATE", der)
		write(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	leaf("server", 2, x509.ExtKeyUsageServerAuth)
	leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return files
}

func TestTLSWithClientCertificate(t *testing.T) {
	f := pki(t, t.TempDir())
	conf := fmt.Sprintf("jetstream: {}\ntls: { cert_file: %q, key_file: %q, ca_file: %q, verify: true }\n",
		f["server.pem"], f["server-key.pem"], f["ca.pem"])
	srv := fleettest.RunServerConfig(t, conf)
	url := strings.Replace(srv.URL(), "nats://", "tls://", 1)
	withTLS := func(c *Config) { c.TLSCA, c.TLSCert, c.TLSKey = f["ca.pem"], f["client.pem"], f["client-key.pem"] }
	a := join(t, url, "dev-a", withTLS)
	b := join(t, url, "dev-b", withTLS)
	// Without a client certificate the server refuses the handshake.
	x := join(t, url, "dev-x", func(c *Config) { c.TLSCA = f["ca.pem"] })
	waitConnected(t, a, b)
	register(t, a, "alpha", 4001)
	testutil.WaitFor(t, 5*time.Second, "b sees alpha over TLS", func() bool {
		return slices.Equal(b.Names(), []string{"alpha@dev-a"})
	})
	testutil.WaitFor(t, 5*time.Second, "dev-x reports an error", func() bool { return x.Status().LastError != "" })
	if x.Status().Connected {
		t.Fatal("connected without a client certificate")
	}
}
