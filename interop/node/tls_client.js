#!/usr/bin/env node
// autobahn-js over wss:// against the daemon's TLS listener.
//
//   NODE_EXTRA_CA_CERTS=ca.pem node tls_client.js --url wss://127.0.0.1:PORT/ws
//                                  [--serializer json|msgpack] [--untrusted 1]
//
// Run by interop/tls_test.go. The router's certificate is verified by Node
// against its default roots plus NODE_EXTRA_CA_CERTS (the test CA), the way
// a Node user trusts a private CA; nothing here turns verification off.
// First a bare TLS probe reports whether the chain verified and the peer's
// serial number; then two autobahn-js sessions join over wss, one registers
// an echo and subscribes, the other calls it with a 100 KiB payload and
// publishes with acknowledge; both leave. Prints one JSON line.
//
// With --untrusted 1 (run without NODE_EXTRA_CA_CERTS) it expects the
// opposite: the probe does not verify and autobahn-js cannot join; it
// prints {"refused": true, "error": ...} then.
'use strict';

if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = require('ws'); // Node 20 has no global WebSocket
}
const tls = require('tls');

const TIMEOUT_MS = 30000;

function parseArgs(argv) {
  const a = { serializer: 'json', untrusted: '0' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!['url', 'serializer', 'untrusted'].includes(k)) throw new Error('unknown flag ' + argv[i]);
    a[k] = argv[i + 1];
  }
  if (!a.url) throw new Error('--url is required');
  return a;
}

function step(what) {
  process.stderr.write('step: ' + what + '\n');
}

function withTimeout(p, what) {
  let t;
  const timer = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error('timeout: ' + what)), TIMEOUT_MS);
  });
  return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

// probe opens a bare TLS connection with Node's default trust (which
// includes NODE_EXTRA_CA_CERTS) and reports what it saw.
function probe(host, port) {
  return withTimeout(new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, servername: host === '127.0.0.1' ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = s.getPeerCertificate();
      const out = {
        authorized: s.authorized,
        authorization_error: s.authorizationError ? String(s.authorizationError) : null,
        peer_serial: cert && cert.serialNumber ? BigInt('0x' + cert.serialNumber).toString() : null,
        alpn: s.alpnProtocol || null,
        protocol: s.getProtocol(),
      };
      s.end();
      resolve(out);
    });
    s.on('error', reject);
  }), 'tls probe');
}

async function connect(url, serializer) {
  const autobahn = require('autobahn');
  const ser = serializer === 'msgpack' ? new autobahn.serializer.MsgpackSerializer() : new autobahn.serializer.JSONSerializer();
  const conn = new autobahn.Connection({ url, realm: 'realm1', serializers: [ser], max_retries: 0, retry_if_unreachable: false });
  let closed;
  const closedP = new Promise((resolve) => { closed = resolve; });
  const session = await withTimeout(new Promise((resolve, reject) => {
    conn.onopen = (s) => resolve(s);
    conn.onclose = (reason, details) => {
      reject(new Error('connection closed before join: ' + reason + ' ' + JSON.stringify(details)));
      closed(details);
      return true; // never reconnect
    };
    conn.open();
  }), 'autobahn join');
  return { conn, session, closedP };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const u = new URL(a.url.replace(/^wss:/, 'https:'));
  step('probe');
  const p = await probe(u.hostname, Number(u.port));
  if (a.untrusted === '1') {
    let joined = false;
    let error = null;
    // autobahn-js leaves ws's 'error' event (the failed verification)
    // unhandled, which Node raises as an uncaught exception.
    process.on('uncaughtException', (e) => {
      console.log(JSON.stringify({ refused: !p.authorized && !joined, probe: p, error: String(e && e.code || e) }));
      process.exit(0);
    });
    try {
      const c = await connect(a.url, a.serializer);
      joined = true;
      c.conn.close();
    } catch (e) {
      error = String(e && e.message || e);
    }
    console.log(JSON.stringify({ refused: !p.authorized && !joined, probe: p, error }));
    process.exit(0);
  }
  const out = { probe_authorized: p.authorized, peer_serial: p.peer_serial, alpn: p.alpn, protocol: p.protocol };
  step('join');
  const callee = await connect(a.url, a.serializer);
  const caller = await connect(a.url, a.serializer);
  step('register');
  await withTimeout(callee.session.register('com.example.tls.echo', (args) => args[0]), 'register');
  step('call');
  const big = 'z'.repeat(100 << 10);
  const r = await withTimeout(caller.session.call('com.example.tls.echo', [big]), 'call');
  out.echo_ok = r === big;
  step('subscribe');
  let got;
  const gotP = new Promise((resolve) => { got = resolve; });
  await withTimeout(callee.session.subscribe('com.example.tls.topic', (args) => got(args[0])), 'subscribe');
  step('publish');
  await withTimeout(caller.session.publish('com.example.tls.topic', ['over tls'], {}, { acknowledge: true }), 'publish');
  out.event = await withTimeout(gotP, 'event');
  step('leave');
  for (const c of [callee, caller]) {
    c.conn.close();
    const d = await withTimeout(c.closedP, 'leave');
    out.left = d.reason;
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((e) => {
  console.log(JSON.stringify({ fatal: String(e && e.stack || e) }));
  process.exit(1);
});
