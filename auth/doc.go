// Package auth implements WAMP authentication methods for the router:
// anonymous, ticket, wampcra (plain and PBKDF2-salted), cryptosign
// (Ed25519, with TLS channel binding when the transport provides it) and
// wamp-scram (argon2id13 and pbkdf2; passwords and authids prepared with
// SASLprep; channel binding tls-unique on TLS 1.2 and tls-exporter on TLS
// 1.3), against principals from the
// configuration (Static) or from a dynamic authenticator procedure
// (Dynamic, Crossbar's contract).
//
// Every method is a core.Challenger: core runs Begin and Verify on its
// bounded worker pool, never on a poller, and enforces the handshake
// timeout, the pending-handshake bounds and the failed-login windows.
// This package only decides. Refusals use one generic message so that a
// client cannot tell a wrong secret from an unknown authid; secrets and
// keys are compared in constant time and never logged.
//
// auth imports core, codec and client (the dynamic authenticator calls its
// procedure through an in-process client session); cmd/zwamp wires it in.
package auth
