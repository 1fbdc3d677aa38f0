#!/usr/bin/env node
// autobahn-js against zwamp's advanced RPC features: call canceling,
// progressive call results and disclose_caller.
//
//   node rpc_advanced.js caller --url ws://127.0.0.1:PORT/ws [--serializer json|msgpack]
//
// Needs interop/python/rpc_advanced.py's service (adv.slow, adv.stream) on
// the same router. Prints one JSON line, asserted on by
// interop/rpc_advanced_test.go.
//
// autobahn-js 26.3.1 cancels with promise.cancel({mode}). It rejects the
// call itself for skip and killnowait and drops the request, so the ERROR
// the spec has the dealer send for those modes reaches it as "CALL-ERROR
// received for non-pending request ID" and it fails the transport; only
// kill, which waits for the dealer's answer, works with it. Its callee does
// not announce call_canceling (and has no INTERRUPT handler), so zwamp
// cancels calls to it as skip. It has no progressive call invocations.
'use strict';

if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = require('ws');
}
const autobahn = require('autobahn');

const TIMEOUT_MS = 30000;

function parseArgs(argv) {
  const a = { mode: argv[0], serializer: 'json' };
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!['url', 'serializer'].includes(k)) throw new Error('unknown flag ' + argv[i]);
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function connect(url, serializer) {
  const ser = serializer === 'msgpack' ? new autobahn.serializer.MsgpackSerializer() : new autobahn.serializer.JSONSerializer();
  const conn = new autobahn.Connection({ realm: 'realm1', url, serializers: [ser], max_retries: 0, retry_if_unreachable: false });
  let closed;
  const closedP = new Promise((resolve) => { closed = resolve; });
  let welcome;
  const session = await withTimeout(new Promise((resolve, reject) => {
    conn.onopen = (s, details) => { welcome = details; resolve(s); };
    conn.onclose = (reason, details) => {
      reject(new Error('connection closed: ' + reason + ' ' + JSON.stringify(details)));
      closed({ reason, details });
      return true; // never reconnect
    };
    conn.open();
  }), 'join');
  const leave = async () => {
    conn.close();
    const c = await withTimeout(closedP, 'leave');
    return c.details.reason;
  };
  return { session, leave, authid: welcome && welcome.authid };
}

// outcome waits for a call and reports its result or error URI.
async function outcome(p, what) {
  try {
    const r = await withTimeout(p, what);
    return { result: r instanceof autobahn.Result ? r.args : r };
  } catch (e) {
    return { error: e.error || ('exception:' + e) };
  }
}

async function runCaller(a) {
  const caller = await connect(a.url, a.serializer);
  const callee = await connect(a.url, a.serializer);
  const out = {};

  // The JS callee: answers after 1 s; it does not support canceling.
  await withTimeout(callee.session.register('adv.js.slow', () => sleep(1000).then(() => 'late')), 'register');

  // kill to a callee that supports canceling (Python's adv.slow): INTERRUPT,
  // then the callee's own ERROR ends the call.
  step('kill, canceling callee');
  let p = caller.session.call('adv.slow', ['js-kill']);
  await sleep(300); // let the INVOCATION reach the callee
  p.cancel({ mode: 'kill' });
  out.kill_canceling_callee = await outcome(p, 'kill adv.slow');

  // kill to a callee that does not: the dealer cancels as skip, at once.
  step('kill, plain callee');
  const t0 = Date.now();
  p = caller.session.call('adv.js.slow');
  await sleep(100);
  p.cancel({ mode: 'kill' });
  const o = await outcome(p, 'kill adv.js.slow');
  out.kill_plain_callee = { error: o.error, before_callee_answered: Date.now() - t0 < 1000 };
  await sleep(1200); // the callee's late YIELD is discarded by the dealer

  // Progressive call results from Python's adv.stream.
  step('progressive results');
  const progress = [];
  const final = await withTimeout(new Promise((resolve, reject) => {
    caller.session.call('adv.stream', [3], {}, { receive_progress: true }).then(resolve, reject, (v) => progress.push(v));
  }), 'adv.stream');
  out.progressive = { progress: progress.map((v) => (v instanceof autobahn.Result ? v.args : v)), final };

  // disclose_caller on REGISTER: the callee learns who calls without the
  // caller asking for disclosure.
  step('disclose_caller');
  await withTimeout(callee.session.register('adv.js.who', (args, kwargs, details) => ({
    caller: details.caller, authid: details.caller_authid, authrole: details.caller_authrole,
  }), { disclose_caller: true }), 'register adv.js.who');
  const who = await outcome(caller.session.call('adv.js.who'), 'adv.js.who');
  out.disclose_caller = {
    caller_is_session: who.result && who.result.caller === caller.session.id,
    authid_is_callers: who.result && who.result.authid === caller.authid && !!caller.authid,
    authrole: who.result && who.result.authrole,
  };

  // Both sessions are still healthy.
  out.after = await outcome(caller.session.call('adv.stream', [0]), 'adv.stream after');
  out.leave = [await caller.leave(), await callee.leave()];
  return out;
}

const MODES = { caller: runCaller };

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!(a.mode in MODES)) throw new Error('unknown mode ' + a.mode);
  const out = await MODES[a.mode](a);
  Object.assign(out, { client: 'autobahn-js', serializer: a.serializer, mode: a.mode });
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stdout.write(JSON.stringify({ fatal: String(e && e.stack || e), detail: e }) + '\n');
    process.exit(1);
  },
);
