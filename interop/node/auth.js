#!/usr/bin/env node
// autobahn-js and wampy logging in to the zwamp daemon with each authmethod
// they have (autobahn-js 26: ticket, wampcra with salted secrets via
// auth_cra, cryptosign via auth_cryptosign/tweetnacl; wampy 8: ticket,
// wampcra via wampy/wampcra.js, cryptosign via wampy/cryptosign.js). Run by
// interop/auth_test.go.
//
//   node auth.js [--lib autobahn|wampy] --url ws://... --realm R
//                --method ticket|wampcra|cryptosign
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

function autobahnMain() {
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
}

async function wampyMain() {
  const { Wampy } = require('wampy');
  const WebSocket = require('ws');
  const method = arg('method');
  const secret = arg('secret', '');
  const opts = { realm: arg('realm'), ws: WebSocket, autoReconnect: false, authmethods: [method] };
  // wampy sends authmethods only together with an authid.
  const authid = arg('authid', '');
  if (authid) opts.authid = authid;
  let signCS = null;
  if (method === 'cryptosign') {
    const cs = require('wampy/cryptosign.js');
    signCS = cs.sign(arg('seed'));
    const autobahn = require('autobahn');
    const kp = autobahn.nacl.sign.keyPair.fromSeed(autobahn.util.htob(arg('seed')));
    opts.authextra = { pubkey: autobahn.util.btoh(kp.publicKey) };
  }
  const cra = method === 'wampcra' ? await import('wampy/wampcra.js') : null;
  opts.onChallenge = async (m, info) => {
    if (m === 'ticket') return secret;
    if (m === 'wampcra') {
      let key = secret;
      if (info.salt) key = await cra.deriveKey(secret, info.salt, info.iterations, info.keylen);
      return cra.signManual(key, info.challenge);
    }
    if (m === 'cryptosign') return signCS(m, info);
    throw new Error('unexpected challenge ' + m);
  };
  const timer = setTimeout(() => { emit({ fatal: 'timed out' }); process.exit(1); }, 30000);
  const w = new Wampy(arg('url'), opts);
  let details;
  try {
    details = await w.connect();
  } catch (e) {
    clearTimeout(timer);
    // wampy reports the ABORT reason in the error's details or message.
    const reason = (e && (e.errorUri || (e.details && e.details.reason))) || String(e && e.message);
    emit({ joined: false, reason: reason, message: String(e && e.message) });
    return;
  }
  clearTimeout(timer);
  emit({ joined: true, details: {
    authid: details.authid, authrole: details.authrole, authmethod: details.authmethod,
    authprovider: details.authprovider, session: String(w.getSessionId()) } });
  await w.disconnect();
}

if (arg('lib', 'autobahn') === 'wampy') {
  wampyMain().catch((e) => { emit({ fatal: String(e && e.stack) }); process.exit(1); });
} else {
  autobahnMain();
}
