#!/usr/bin/env node
// autobahn-js logging in to the zwamp daemon with each authmethod it has
// (autobahn-js 26: ticket, wampcra with salted secrets via auth_cra,
// cryptosign via auth_cryptosign/tweetnacl). Run by interop/auth_test.go.
//
//   node auth.js --url ws://... --realm R --method ticket|wampcra|cryptosign
//                --authid ID [--secret S] [--seed HEX32]
//
// Prints one JSON line: {"joined": true, "details": {...}} or
// {"joined": false, "reason": ..., "message": ...}.
'use strict';

if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = require('ws');
}
const autobahn = require('autobahn');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}

function emit(o) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

const method = arg('method');
const secret = arg('secret', '');
const options = {
  url: arg('url'),
  realm: arg('realm'),
  authmethods: [method],
  max_retries: 0,
  retry_if_unreachable: false,
};
const authid = arg('authid', '');
if (authid) options.authid = authid;
let keyPair = null;
if (method === 'cryptosign') {
  keyPair = autobahn.nacl.sign.keyPair.fromSeed(autobahn.util.htob(arg('seed')));
  options.authextra = { pubkey: autobahn.util.btoh(keyPair.publicKey) };
}
options.onchallenge = function (session, m, extra) {
  if (m === 'ticket') return secret;
  if (m === 'wampcra') {
    let key = secret;
    if (extra.salt) key = autobahn.auth_cra.derive_key(secret, extra.salt, extra.iterations, extra.keylen);
    return autobahn.auth_cra.sign(key, extra.challenge);
  }
  if (m === 'cryptosign') return autobahn.auth_cryptosign.sign_challenge(keyPair, extra);
  throw new Error('unexpected challenge ' + m);
};

let done = false;
const timer = setTimeout(() => { emit({ fatal: 'timed out' }); process.exit(1); }, 30000);
const conn = new autobahn.Connection(options);
conn.onopen = function (session, details) {
  done = true;
  emit({ joined: true, details: {
    authid: details.authid, authrole: details.authrole, authmethod: details.authmethod,
    authprovider: details.authprovider, session: session.id } });
  clearTimeout(timer);
  conn.close();
};
conn.onclose = function (reason, details) {
  if (!done) {
    done = true;
    clearTimeout(timer);
    emit({ joined: false, reason: details.reason || reason, message: details.message || '' });
  }
  return true; // no reconnect
};
conn.open();
