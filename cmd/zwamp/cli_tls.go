package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
)

// TLS flags of the client subcommands, for wss:// and rss:// URLs: the
// router's CA, a client certificate (the tls authmethod, or a listener
// that requires one), or no verification for a throwaway test router.

func (o *cliOptions) registerTLS(fs *flag.FlagSet) {
	fs.StringVar(&o.tlsCA, "tls-ca", os.Getenv("ZWAMP_TLS_CA"), "PEM file of the CA (or self-signed certificate) to verify the router with, instead of the system's (env ZWAMP_TLS_CA)")
	fs.StringVar(&o.tlsCert, "tls-cert", os.Getenv("ZWAMP_TLS_CERT"), "PEM client certificate to present (env ZWAMP_TLS_CERT)")
	fs.StringVar(&o.tlsKey, "tls-key", os.Getenv("ZWAMP_TLS_KEY"), "PEM key of --tls-cert (env ZWAMP_TLS_KEY)")
	fs.BoolVar(&o.tlsInsecure, "tls-insecure", os.Getenv("ZWAMP_TLS_INSECURE") == "1", "do not verify the router's certificate (tests only; env ZWAMP_TLS_INSECURE=1)")
}

// tlsConfig builds the client's TLS configuration from the flags; nil when
// none is set (the system roots are used).
func (o *cliOptions) tlsConfig() (*tls.Config, error) {
	if o.tlsCA == "" && o.tlsCert == "" && o.tlsKey == "" && !o.tlsInsecure {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.tlsInsecure}
	if o.tlsCA != "" {
		pem, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: no PEM certificate in %s", o.tlsCA)
		}
		tc.RootCAs = pool
	}
	switch {
	case o.tlsCert != "" && o.tlsKey != "":
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case o.tlsCert != "" || o.tlsKey != "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	return tc, nil
}
