// Package bridge is the HTTP bridge to a realm, with Crossbar's contract:
// POST /publish and POST /call turn an HTTP request into a WAMP PUBLISH or
// CALL made by an in-process session, and webhooks POST the events of a
// subscription to a URL.
//
// A Bridge joins its realm through the in-process transport
// (client.ConnectLocal), so it costs no socket and is subject to the same
// routing as any other session. It imports client and core, never netpoll;
// the admin HTTP listener (or any net/http server) mounts its Handler.
package bridge
