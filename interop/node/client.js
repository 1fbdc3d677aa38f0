#!/usr/bin/env node
// autobahn-js and wampy as third-party WAMP clients of the zwamp daemon.
//
//   node client.js MODE --lib autobahn|wampy --url ws://127.0.0.1:PORT/ws
//                       [--serializer json|msgpack] [--prefix P] [--topic T]
//
// The modes are those of interop/python/client.py (suite, service, caller,
// subscribe); each prints its outcome as one JSON line on stdout, with binary
// values as {"$bytes": "<hex>"}, and interop/interop_test.go asserts on the
// values. Both libraries are driven through one small adapter (connect,
// register, call, subscribe, publish, leave) so that every case runs the same
// way on both.
'use strict';

// Node 20 has no global WebSocket (autobahn-js 26 uses it; Node 22 has one).
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = require('ws');
}
const crypto = require('crypto');

// The payloads are duplicated in interop/python/client.py and in
// interop/interop_test.go, which checks that what came back equals them.
const UNICODE = 'ü€𝄞中文';
const ARGS = [1, 'two', 3.5, true, null, [1, 2, [3]], { a: 'b', n: -7 }];
const KWARGS = { k: 'v', n: 42, nested: { list: [1, 'x'], f: 0.25 }, [UNICODE]: UNICODE };
const ERR_URI = 'interop.error.custom';
const ERR_ARGS = ['bad thing', 7];
const ERR_KWARGS = { code: 42, why: UNICODE };
const BIG = '0123456789abcdef'.repeat(65536); // 1 MiB of ASCII
const INFLIGHT = 1000;
const TIMEOUT_MS = 30000; // any single step; the Go test's hard timeout is above this

function parseArgs(argv) {
  const a = { mode: argv[0], lib: 'autobahn', serializer: 'json', prefix: 'interop.js', topic: 'interop.topic', serveFor: 60 };
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
    if (!(k in a) && k !== 'url') throw new Error('unknown flag ' + argv[i]);
    a[k] = argv[i + 1];
  }
  if (!a.url) throw new Error('--url is required');
  a.serveFor = Number(a.serveFor);
  return a;
}

function canon(v) {
  // msgpackr (wampy) decodes every 64-bit-encoded integer, e.g. an ID above
  // 2^32, as a BigInt, which JSON cannot print.
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof ArrayBuffer) v = new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  if (Array.isArray(v)) return v.map(canon);
  if (v !== null && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = canon(v[k]);
    return o;
  }
  return v === undefined ? null : v;
}

// step notes progress on stderr, which the Go test shows when a case fails.
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

// AppError is what a registered procedure throws for an application error;
// each adapter turns it into its library's own error shape.
class AppError extends Error {
  constructor(uri, args, kwargs) {
    super(uri);
    this.uri = uri;
    this.args = args;
    this.kwargs = kwargs;
  }
}

// ---- autobahn-js ---------------------------------------------------------

async function autobahnConnect(url, serializer) {
  const autobahn = require('autobahn');
  const ser = serializer === 'msgpack' ? new autobahn.serializer.MsgpackSerializer() : new autobahn.serializer.JSONSerializer();
  const opts = { realm: 'realm1', max_retries: 0, retry_if_unreachable: false };
  if (url.startsWith('rs://')) {
    // autobahn-js's RawSocket transport (Node only) speaks JSON only.
    if (serializer !== 'json') throw new Error('autobahn-js RawSocket is JSON only');
    const u = new URL(url.replace(/^rs:/, 'http:'));
    opts.transports = [{ type: 'rawsocket', host: u.hostname, port: Number(u.port) }];
  } else {
    opts.url = url;
    opts.serializers = [ser];
  }
  const conn = new autobahn.Connection(opts);
  let closed;
  const closedP = new Promise((resolve) => { closed = resolve; });
  const session = await withTimeout(new Promise((resolve, reject) => {
    conn.onopen = (s) => resolve(s);
    conn.onclose = (reason, details) => {
      reject(new Error('connection closed before join: ' + reason + ' ' + JSON.stringify(details)));
      closed({ reason, details });
      return true; // never reconnect
    };
    conn.open();
  }), 'autobahn join');
  return {
    id: session.id,
    closed: closedP,
    async register(uri, fn) {
      await withTimeout(session.register(uri, (args, kwargs, details) => {
        try {
          const r = fn(args || [], kwargs || {}, details);
          return new autobahn.Result(r.args, r.kwargs);
        } catch (e) {
          if (e instanceof AppError) throw new autobahn.Error(e.uri, e.args, e.kwargs);
          throw e;
        }
      }), 'register ' + uri);
    },
    async call(uri, args, kwargs) {
      let r;
      try {
        r = await withTimeout(session.call(uri, args, kwargs), 'call ' + uri);
      } catch (e) {
        throw new AppError(e.error || ('exception:' + e), e.args || [], e.kwargs || {});
      }
      // autobahn-js hands back a bare value for a single positional result.
      if (r instanceof autobahn.Result) return { args: r.args || [], kwargs: r.kwargs || {} };
      return { args: r === undefined || r === null ? [] : [r], kwargs: {} };
    },
    async subscribe(uri, fn) {
      await withTimeout(session.subscribe(uri, (args, kwargs, details) => fn(args || [], kwargs || {}, details.publication)), 'subscribe');
    },
    async publish(uri, args, kwargs) {
      const p = await withTimeout(session.publish(uri, args, kwargs, { acknowledge: true }), 'publish');
      return p.id;
    },
    // leave sends GOODBYE and resolves with the reason of the router's reply.
    async leave() {
      conn.close();
      const c = await withTimeout(closedP, 'autobahn leave');
      return c.details.reason;
    },
  };
}

// ---- wampy ---------------------------------------------------------------

async function wampyConnect(url, serializer) {
  const { Wampy } = require('wampy');
  const WebSocket = require('ws');
  const opts = { realm: 'realm1', ws: WebSocket, autoReconnect: false };
  if (serializer === 'msgpack') {
    const { MsgpackSerializer } = require('wampy/MsgpackSerializer.js');
    opts.serializer = new MsgpackSerializer();
  }
  let closed;
  const closedP = new Promise((resolve) => { closed = resolve; });
  opts.onClose = () => closed({});
  const w = new Wampy(url, opts);
  await withTimeout(w.connect(), 'wampy join');
  return {
    id: canon(w.getSessionId()),
    closed: closedP,
    async register(uri, fn) {
      await withTimeout(w.register(uri, ({ argsList, argsDict, details }) => {
        try {
          const r = fn(argsList || [], argsDict || {}, details);
          return { argsList: r.args, argsDict: r.kwargs };
        } catch (e) {
          if (e instanceof AppError) throw { error: e.uri, argsList: e.args, argsDict: e.kwargs };
          throw e;
        }
      }), 'register ' + uri);
    },
    async call(uri, args, kwargs) {
      let r;
      try {
        r = await withTimeout(w.call(uri, { argsList: args, argsDict: kwargs }), 'call ' + uri);
      } catch (e) {
        throw new AppError(e.errorUri || ('exception:' + e), e.argsList || [], e.argsDict || {});
      }
      return { args: r.argsList || [], kwargs: r.argsDict || {} };
    },
    async subscribe(uri, fn) {
      // wampy 8.0.2 puts {match: undefined, get_retained: undefined} into
      // SUBSCRIBE.Options unless both are given; msgpackr encodes undefined
      // as its private extension (d4 00 00), which no router can read as a
      // string or a boolean, so over msgpack the router rightly ABORTs.
      // Giving both options explicitly is plain wampy API usage.
      // wampy does not hand the publication id to the handler.
      await withTimeout(w.subscribe(uri, ({ argsList, argsDict }) => fn(argsList || [], argsDict || {}, null),
        { match: 'exact', get_retained: false }), 'subscribe');
    },
    async publish(uri, args, kwargs) {
      // wampy always asks for acknowledge and resolves with the PUBLISHED id.
      const r = await withTimeout(w.publish(uri, { argsList: args, argsDict: kwargs }), 'publish');
      return canon(r.publicationId);
    },
    // wampy does not expose the reason of the router's GOODBYE: disconnect()
    // resolves when the router has answered and the socket is closed.
    async leave() {
      await withTimeout(w.disconnect(), 'wampy leave');
      return 'closed';
    },
  };
}

const LIBS = { autobahn: autobahnConnect, wampy: wampyConnect };

// ---- cases ---------------------------------------------------------------

function service(session, prefix, topic) {
  const svc = { invocations: 0 };
  svc.register = async () => {
    await session.register(prefix + '.echo', (args, kwargs) => {
      svc.invocations++;
      return { args, kwargs };
    });
    await session.register(prefix + '.fail', () => {
      svc.invocations++;
      throw new AppError(ERR_URI, ERR_ARGS, ERR_KWARGS);
    });
    await session.register(prefix + '.double', (args) => {
      svc.invocations++;
      return { args: [2 * args[0]], kwargs: {} };
    });
  };
  return svc;
}

async function exercise(caller, prefix) {
  const out = {};
  step('rpc');
  let r = await caller.call(prefix + '.echo', ARGS, KWARGS);
  out.rpc = { args: canon(r.args), kwargs: canon(r.kwargs) };

  step('unicode');
  r = await caller.call(prefix + '.echo', [UNICODE], { [UNICODE]: [UNICODE] });
  out.unicode = { args: canon(r.args), kwargs: canon(r.kwargs) };

  step('app_error');
  try {
    await caller.call(prefix + '.fail', [1, 2], { x: 3 });
    out.app_error = { error: null };
  } catch (e) {
    out.app_error = { error: e.uri, args: canon(e.args), kwargs: canon(e.kwargs) };
  }

  step('no_such_procedure');
  try {
    await caller.call(prefix + '.missing', [], {});
    out.no_such_procedure = null;
  } catch (e) {
    out.no_such_procedure = e.uri;
  }

  step('big');
  r = await caller.call(prefix + '.echo', [BIG], {});
  const got = typeof r.args[0] === 'string' ? r.args[0] : '';
  out.big = { len: Buffer.byteLength(got), sha256: crypto.createHash('sha256').update(got).digest('hex') };

  step('inflight');
  // Every call is sent before any result is awaited.
  const calls = [];
  for (let i = 0; i < INFLIGHT; i++) calls.push(caller.call(prefix + '.double', [i], {}));
  const results = await withTimeout(Promise.allSettled(calls), 'inflight calls');
  let ok = 0;
  let firstBad = null;
  results.forEach((res, i) => {
    if (res.status === 'fulfilled' && res.value.args[0] === 2 * i) ok++;
    else if (firstBad === null) firstBad = { i, got: JSON.stringify(res.status === 'fulfilled' ? res.value : String(res.reason && res.reason.uri || res.reason)) };
  });
  out.inflight = { n: INFLIGHT, ok, first_bad: firstBad };
  return out;
}

async function pubsub(publisher, subscriber, topic) {
  step('pubsub');
  const events = [];
  let done;
  const got = new Promise((resolve) => { done = resolve; });
  await subscriber.subscribe(topic, (args, kwargs, publication) => {
    events.push({ args: canon(args), kwargs: canon(kwargs), publication: canon(publication) });
    if (events.length === 2) done();
  });
  const acks = [];
  acks.push(await publisher.publish(topic, ARGS, KWARGS));
  acks.push(await publisher.publish(topic, [UNICODE], { [UNICODE]: UNICODE }));
  await withTimeout(got, 'events');
  return { acks, events };
}

function stdinEOF() {
  return new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('error', resolve);
    process.stdin.resume();
  });
}

const MODES = {
  async suite(a, connect) {
    const callee = await connect(a.url, a.serializer);
    const caller = await connect(a.url, a.serializer);
    const out = {
      join: { realm: 'realm1', distinct: callee.id !== caller.id, ids_positive: callee.id > 0 && caller.id > 0 },
    };
    const count = await caller.call('wamp.session.count', [], {});
    out.session_count = canon(count.args[0]);
    const svc = service(callee, 'interop.js', a.topic);
    await svc.register();
    Object.assign(out, await exercise(caller, 'interop.js'));
    out.pubsub = await pubsub(caller, callee, a.topic);
    out.invocations = svc.invocations;
    out.leave = [await caller.leave(), await callee.leave()];
    return out;
  },

  async service(a, connect) {
    const s = await connect(a.url, a.serializer);
    const svc = service(s, a.prefix, a.topic);
    await svc.register();
    emit({ ready: true, session: s.id });
    const which = await Promise.race([
      stdinEOF().then(() => 'stdin'),
      s.closed.then(() => 'router'),
      new Promise((resolve) => setTimeout(resolve, a.serveFor * 1000, 'timeout')),
    ]);
    let reason;
    if (which === 'router') {
      const c = await s.closed;
      reason = c.details ? c.details.reason : 'closed';
    } else {
      reason = await s.leave();
    }
    return { invocations: svc.invocations, leave_reason: reason, stdin_closed: which === 'stdin' };
  },

  async caller(a, connect) {
    const s = await connect(a.url, a.serializer);
    const out = await exercise(s, a.prefix);
    out.leave = [await s.leave()];
    return out;
  },

  async subscribe(a, connect) {
    const s = await connect(a.url, a.serializer);
    let done;
    const got = new Promise((resolve) => { done = resolve; });
    await s.subscribe(a.topic, (args, kwargs, publication) => done({ args: canon(args), kwargs: canon(kwargs), publication: canon(publication) }));
    emit({ ready: true });
    const event = await withTimeout(got, 'event');
    return { event, leave: [await s.leave()] };
  },
};

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!(a.mode in MODES)) throw new Error('unknown mode ' + a.mode);
  if (!(a.lib in LIBS)) throw new Error('unknown lib ' + a.lib);
  const out = await MODES[a.mode](a, LIBS[a.lib]);
  Object.assign(out, { client: a.lib === 'autobahn' ? 'autobahn-js' : 'wampy', serializer: a.serializer, mode: a.mode });
  emit(out);
}

main().then(
  () => process.exit(0),
  (e) => {
    emit({ fatal: String(e && e.stack || e) });
    process.exit(1);
  },
);
