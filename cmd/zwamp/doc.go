// Command zwamp is the zwamp WAMP router daemon and a WAMP command-line
// client.
//
//	zwamp serve [--config FILE] [--listen ADDR]   run the router
//	zwamp version                                 print the version
//	zwamp bench MODE [flags]                      load a WAMP router
//	zwamp passwd [--method ...]                   print a principal's stored secret
//	zwamp pub|sub|call|register|join ...          WAMP client (cli.go)
//
// With no configuration, `zwamp serve` listens on 127.0.0.1:8080 — WebSocket
// (any path; wamp.2.json, wamp.2.msgpack, wamp.2.cbor and their .batched
// variants) and RawSocket on the same port — with the realm "realm1",
// anonymous sessions, the meta API, and the admin listener (/healthz,
// /readyz, /metrics, /status) on 127.0.0.1:8081 when that port is free.
//
// serve wires the packages together: config (config*.go, auth.go, authz.go,
// tls.go), the router (core), authentication (auth) and authorization
// (authz), the listeners (netpoll), the admin listener and HTTP bridges
// (ops.go: admin, bridge); SIGHUP reloads (reload.go), SIGUSR1 drains,
// SIGTERM/SIGINT shut down.
package main
