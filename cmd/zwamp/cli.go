package main

// The WAMP command-line client: `zwamp pub|sub|call|register|join`, thin
// over package client. Conventions follow natscli and wick: subcommands,
// flags with environment fallbacks, human output by default and --json for
// scripts, exit status 1 with the error URI on stderr when the router
// answers ERROR.

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
)

// cliCommand is one client subcommand.
type cliCommand struct {
	name     string
	synopsis string // after "zwamp NAME "
	summary  string // one line for `zwamp help`
	detail   string // paragraph for `zwamp NAME --help`
	// flags adds the subcommand's own flags; run does the work with the
	// positional arguments once the common flags are parsed.
	flags func(fs *flag.FlagSet) any
	run   func(cx *cliContext, pos []string, own any) int
}

// cliContext is what every subcommand gets: parsed common flags and where
// to write.
type cliContext struct {
	opts           cliOptions
	stdout, stderr io.Writer
}

// cliOptions are the flags shared by every client subcommand. Each has an
// environment variable as fallback so that a shell can set the router
// once (ZWAMP_URL, ZWAMP_REALM, ...).
type cliOptions struct {
	url, realm, serializer     string
	authid, authmethod         string
	ticket, secret, privateKey string
	password                   string // wamp-scram
	tlsCA, tlsCert, tlsKey     string // PEM files (cli_tls.go)
	tlsInsecure                bool
	timeout                    time.Duration
	json                       bool
	scram                      *auth.SCRAMClient // set by clientConfig for wamp-scram
}

func (o *cliOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "url", envOr("ZWAMP_URL", "ws://127.0.0.1:8080/ws"), "router URL: ws://, wss://, rs://, rss://, unix:///path (env ZWAMP_URL)")
	fs.StringVar(&o.realm, "realm", envOr("ZWAMP_REALM", "realm1"), "realm to join (env ZWAMP_REALM)")
	fs.StringVar(&o.serializer, "serializer", envOr("ZWAMP_SERIALIZER", "json"), "json, msgpack or cbor (env ZWAMP_SERIALIZER)")
	fs.StringVar(&o.authid, "authid", os.Getenv("ZWAMP_AUTHID"), "authid to announce in HELLO (env ZWAMP_AUTHID)")
	fs.StringVar(&o.authmethod, "authmethod", os.Getenv("ZWAMP_AUTHMETHOD"), "anonymous, ticket, wampcra, cryptosign, wamp-scram or tls; default: from the credential given (env ZWAMP_AUTHMETHOD)")
	fs.StringVar(&o.ticket, "ticket", os.Getenv("ZWAMP_TICKET"), "ticket for the ticket method (env ZWAMP_TICKET)")
	fs.StringVar(&o.secret, "secret", os.Getenv("ZWAMP_SECRET"), "secret for wampcra (env ZWAMP_SECRET)")
	fs.StringVar(&o.privateKey, "private-key", os.Getenv("ZWAMP_PRIVATE_KEY"), "hex Ed25519 seed (32 bytes) or private key (64 bytes) for cryptosign (env ZWAMP_PRIVATE_KEY)")
	fs.StringVar(&o.password, "password", os.Getenv("ZWAMP_PASSWORD"), "password for wamp-scram; the router's proof is checked too (env ZWAMP_PASSWORD)")
	o.registerTLS(fs)
	fs.DurationVar(&o.timeout, "timeout", envDuration("ZWAMP_TIMEOUT", 10*time.Second), "bound on connecting and on each request (env ZWAMP_TIMEOUT)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of human-readable lines")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

// clientConfig turns the common flags into a client.Config.
func (o *cliOptions) clientConfig() (client.Config, error) {
	cfg := client.Config{Realm: o.realm, AuthID: o.authid, RequestTimeout: o.timeout}
	switch strings.ToLower(o.serializer) {
	case "json":
		cfg.Serializer = codec.JSON
	case "msgpack":
		cfg.Serializer = codec.MsgPack
	case "cbor":
		cfg.Serializer = codec.CBOR
	default:
		return cfg, fmt.Errorf("--serializer %q: want json, msgpack or cbor", o.serializer)
	}
	method := o.authmethod
	if method == "" {
		switch {
		case o.ticket != "":
			method = "ticket"
		case o.secret != "":
			method = "wampcra"
		case o.privateKey != "":
			method = "cryptosign"
		case o.password != "":
			method = "wamp-scram"
		}
	}
	switch method {
	case "", "anonymous":
		if method != "" {
			cfg.AuthMethods = []string{"anonymous"}
		}
	case "ticket":
		if o.ticket == "" {
			return cfg, errors.New("--authmethod ticket needs --ticket")
		}
		cfg.AuthMethods, cfg.Authenticate = []string{"ticket"}, client.TicketAuth(o.ticket)
	case "wampcra":
		if o.secret == "" {
			return cfg, errors.New("--authmethod wampcra needs --secret")
		}
		cfg.AuthMethods, cfg.Authenticate = []string{"wampcra"}, client.CRAAuth(o.secret)
	case "cryptosign":
		key, err := parsePrivateKey(o.privateKey)
		if err != nil {
			return cfg, err
		}
		cfg.AuthMethods, cfg.Authenticate = []string{"cryptosign"}, client.CryptosignAuth(key)
		cfg.AuthExtra = client.CryptosignExtra(key)
	case "wamp-scram", "scram":
		if o.password == "" {
			return cfg, errors.New("--authmethod wamp-scram needs --password")
		}
		if cfg.AuthID == "" {
			return cfg, errors.New("--authmethod wamp-scram needs --authid")
		}
		method = "wamp-scram"
		o.scram = auth.NewSCRAMClient(cfg.AuthID, o.password)
		cfg = o.scram.Config(cfg)
	case "tls":
		// The TLS handshake presented the certificate (--tls-cert); its
		// common name is the authid unless --authid names it.
		if o.tlsCert == "" {
			return cfg, errors.New("--authmethod tls needs --tls-cert and --tls-key (and a wss:// or rss:// URL)")
		}
		cfg.AuthMethods = []string{"tls"}
	default:
		return cfg, fmt.Errorf("--authmethod %q: want anonymous, ticket, wampcra, cryptosign, wamp-scram or tls", method)
	}
	tc, err := o.tlsConfig()
	if err != nil {
		return cfg, err
	}
	cfg.TLSConfig = tc
	if method != "" && method != "anonymous" && method != "tls" && cfg.AuthID == "" {
		return cfg, fmt.Errorf("--authmethod %s needs --authid", method)
	}
	return cfg, nil
}

func parsePrivateKey(s string) (ed25519.PrivateKey, error) {
	if s == "" {
		return nil, errors.New("--authmethod cryptosign needs --private-key")
	}
	b, err := hex.DecodeString(strings.TrimSpace(s))
	switch {
	case err != nil:
		return nil, fmt.Errorf("--private-key: not hex: %w", err)
	case len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case len(b) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, fmt.Errorf("--private-key: %d bytes, want a 32-byte seed or a 64-byte key", len(b))
}

// connect dials and joins, bounded by --timeout.
func (cx *cliContext) connect() (*client.Client, error) {
	cfg, err := cx.opts.clientConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cx.opts.timeout)
	defer cancel()
	c, err := client.Connect(ctx, cx.opts.url, cfg)
	if err != nil {
		return nil, fmt.Errorf("join %s at %s: %w", cx.opts.realm, cx.opts.url, err)
	}
	// wamp-scram authenticates both ways: a router that cannot prove it
	// knows the password's keys is not the one the user meant.
	if sc := cx.opts.scram; sc != nil && !sc.VerifyServer(c.Details()) {
		c.Close()
		return nil, fmt.Errorf("join %s at %s: wamp-scram: the router's verifier does not match the password (not the router it claims to be)", cx.opts.realm, cx.opts.url)
	}
	return c, nil
}

// fail reports err and returns the exit status for it: 1 with the URI
// first for a WAMP error, so that scripts can match on it.
func (cx *cliContext) fail(err error) int {
	var we *client.Error
	if errors.As(err, &we) {
		if cx.opts.json {
			cx.printJSON(cx.stderr, map[string]any{"error": we.URI, "args": orEmpty(we.Args), "kwargs": orEmptyMap(we.Kwargs)})
		} else {
			// An ABORT carries its explanation in Details.message, an ERROR
			// in its arguments.
			text := payloadText(we.Args, we.Kwargs)
			if msg, ok := we.Details["message"].(string); ok && text == "" {
				text = jsonText(msg)
			}
			fmt.Fprintln(cx.stderr, strings.TrimSpace(we.URI+" "+text))
		}
		return 1
	}
	fmt.Fprintf(cx.stderr, "zwamp: %v\n", err)
	return 1
}

func (cx *cliContext) printJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(cx.stderr, "zwamp: cannot print as JSON: %v\n", err)
		return
	}
	fmt.Fprintf(w, "%s\n", b)
}

// parseArg reads a command-line argument as JSON when it is valid JSON
// (42, true, null, "quoted", [1,2], {"a":1}) and as a string otherwise, so
// that `zwamp call add 2 3` passes numbers and `zwamp pub t hello` a string.
func parseArg(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

func parseArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = parseArg(s)
	}
	return out
}

// kwFlag collects repeated --kw key=value flags.
type kwFlag map[string]any

func (k kwFlag) String() string { return "" }

func (k kwFlag) Set(s string) error {
	key, val, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	k[key] = parseArg(val)
	return nil
}

func (k kwFlag) orNil() map[string]any {
	if len(k) == 0 {
		return nil
	}
	return k
}

// payloadText renders args and kwargs on one line: the JSON of each
// argument separated by spaces, then the kwargs object if any.
func payloadText(args []any, kwargs map[string]any) string {
	var sb strings.Builder
	for i, a := range args {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(jsonText(a))
	}
	if len(kwargs) > 0 {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(jsonText(kwargs))
	}
	return sb.String()
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (`zwamp pub TOPIC 1 2 --count 3`), which the flag
// package alone stops at. Everything after "--" is positional, so a
// negative number is passed as `-- -5`.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// The flag package consumed "--" if it stopped there; then every
		// remaining argument is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// runCLI runs one client subcommand.
func runCLI(cmd *cliCommand, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cx := &cliContext{stdout: stdout, stderr: stderr}
	own := cmd.flags(fs)
	cx.opts.register(fs)
	// A mistake gets the flag package's one-line error and a pointer to
	// --help, not the whole flag list.
	fs.Usage = func() { fmt.Fprintf(stderr, "see: zwamp %s --help\n", cmd.name) }
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fmt.Fprintf(stdout, "usage: zwamp %s %s\n\n%s\n\nflags:\n", cmd.name, cmd.synopsis, cmd.detail)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	return cmd.run(cx, pos, own)
}

// cliUsage lists the client subcommands for `zwamp help`.
func cliUsage() string {
	var sb strings.Builder
	for _, c := range cliCommands {
		fmt.Fprintf(&sb, "  zwamp %-9s %-33s %s\n", c.name, c.synopsis, c.summary)
	}
	return sb.String()
}

func lookupCLI(name string) *cliCommand {
	for _, c := range cliCommands {
		if c.name == name {
			return c
		}
	}
	return nil
}
