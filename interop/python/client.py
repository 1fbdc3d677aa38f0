#!/usr/bin/python3
"""Autobahn|Python (asyncio) as a third-party WAMP client of the zwamp daemon.

Run by interop/interop_test.go with /usr/bin/python3, which sees Debian's
python3-autobahn, python3-msgpack and python3-cbor2. Every mode prints its
outcome as one JSON line on stdout (service and subscribe print a "ready" line
first, so the Go test knows when to start the peer); the Go test asserts on
the values. Binary values are printed as {"$bytes": "<hex>"} so that every
client's output compares byte for byte.

Modes:
  suite      two sessions of this client: join/leave, meta API, pub/sub with
             acknowledge, RPC with args/kwargs, application error,
             no_such_procedure, unicode, 1 MiB, 1000 calls in flight
  service    register the procedures under --prefix and serve until stdin is
             closed (then leave) or the router says GOODBYE
  caller     call the procedures another client registered under --prefix
  subscribe  subscribe to --topic, print ready, print the first event
  publish    publish the mixed binary/unicode payload to --topic
"""

import argparse
import asyncio
import hashlib
import json
import os
import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.rawsocket import (  # noqa: E402
    WampRawSocketClientFactory,
    WampRawSocketClientProtocol,
)
from autobahn.asyncio.util import create_transport_details  # noqa: E402
from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.rawsocket.util import parse_url as parse_rs_url  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.serializer import (  # noqa: E402
    CBORSerializer,
    JsonSerializer,
    MsgPackSerializer,
)
from autobahn.wamp.types import (  # noqa: E402
    CallResult,
    ComponentConfig,
    PublishOptions,
    SubscribeOptions,
    TransportDetails,
)
from autobahn.websocket.util import parse_url as parse_ws_url  # noqa: E402

# The payloads below are duplicated in interop/node/client.js and in
# interop/interop_test.go, which checks that what came back equals them.
UNICODE = "ü€𝄞中文"
ARGS = [1, "two", 3.5, True, None, [1, 2, [3]], {"a": "b", "n": -7}]
KWARGS = {"k": "v", "n": 42, "nested": {"list": [1, "x"], "f": 0.25}, UNICODE: UNICODE}
ERR_URI = "interop.error.custom"
ERR_ARGS = ["bad thing", 7]
ERR_KWARGS = {"code": 42, "why": UNICODE}
BIG = "0123456789abcdef" * 65536  # 1 MiB of ASCII: bytes == characters
INFLIGHT = 1000
# MIXED is what the cross-serializer publisher sends: binary in every
# position a serializer could lose it, next to text and numbers.
MIXED_ARGS = [b"\x00\x01\x02\xfe\xff", UNICODE, 1, -2, 2.5, True, None, [b"\x10\x20", {"k": b"\xff"}]]
MIXED_KWARGS = {"bin": bytes(range(256)), "text": UNICODE, "nested": {"empty": b"", "list": [1, b"\x00"]}}

SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}
TIMEOUT = 30.0  # seconds for any single step; the Go test's hard timeout is above this


def canon(v):
    """Makes a decoded WAMP value printable as JSON, keeping bytes distinct from text."""
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, dict):
        return {str(k): canon(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    return v


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def step(what):
    """Notes progress on stderr, which the Go test shows when a case fails."""
    sys.stderr.write("step: %s\n" % what)
    sys.stderr.flush()


async def call(session, procedure, *args, **kwargs):
    return await asyncio.wait_for(session.call(procedure, *args, **kwargs), TIMEOUT)


async def publish(session, topic, *args, **kwargs):
    options = PublishOptions(acknowledge=True)
    return await asyncio.wait_for(session.publish(topic, *args, options=options, **kwargs), TIMEOUT)


def split_result(r):
    """autobahn returns a bare value for a single positional result; undo that."""
    if isinstance(r, CallResult):
        return list(r.results), dict(r.kwresults)
    if r is None:
        return [], {}
    return [r], {}


def error_of(e):
    if isinstance(e, ApplicationError):
        return {"error": e.error, "args": canon(list(e.args)), "kwargs": canon(e.kwargs or {})}
    return {"error": "exception:" + repr(e)}


class Peer(ApplicationSession):
    """A session whose join, leave and disconnect can be awaited."""

    def __init__(self, config):
        super().__init__(config)
        loop = asyncio.get_running_loop()
        self.joined = loop.create_future()
        self.left = loop.create_future()
        self.gone = loop.create_future()

    def onJoin(self, details):
        if not self.joined.done():
            self.joined.set_result(details)

    def onLeave(self, details):
        if not self.joined.done():
            self.joined.set_exception(RuntimeError("join refused: %s %s" % (details.reason, details.message)))
        if not self.left.done():
            self.left.set_result(details)
        return super().onLeave(details)

    def onDisconnect(self):
        for f in (self.joined, self.left):
            if not f.done():
                f.set_exception(RuntimeError("transport closed before the session ended"))
                f.exception()  # mark retrieved: not every path awaits both
        if not self.gone.done():
            self.gone.set_result(True)


class _RawSocketClientProtocol(WampRawSocketClientProtocol):
    """Autobahn 22.7.1's asyncio RawSocket client lacks transport_details and
    so crashes on WELCOME (autobahn-python issue #1592, fixed upstream in
    #1593 after the version Debian ships). This supplies what the fix adds.
    """

    def connection_made(self, transport):
        details = create_transport_details(transport, is_server=False)
        details.channel_framing = TransportDetails.CHANNEL_FRAMING_RAWSOCKET
        self._transport_details = details
        super().connection_made(transport)

    @property
    def transport_details(self):
        return self._transport_details


async def connect(url, serializer):
    loop = asyncio.get_running_loop()
    # The transport creates the session only once its handshake is done.
    made = loop.create_future()

    def make():
        s = Peer(ComponentConfig(realm="realm1"))
        if not made.done():
            made.set_result(s)
        return s

    ser = SERIALIZERS[serializer]()
    if url.startswith("rs://"):
        _, host, port = parse_rs_url(url)
        factory = WampRawSocketClientFactory(make, serializer=ser)
        if not hasattr(WampRawSocketClientProtocol, "transport_details"):
            factory.protocol = _RawSocketClientProtocol
    else:
        _, host, port, _, _, _ = parse_ws_url(url)
        factory = WampWebSocketClientFactory(make, url=url, serializers=[ser])
        # ApplicationRunner would cap messages at 1 MiB, too small for the
        # 1 MiB payload plus its envelope; fragmenting at 64 KiB makes the
        # router reassemble continuation frames.
        factory.setProtocolOptions(
            maxFramePayloadSize=0,
            maxMessagePayloadSize=0,
            autoFragmentSize=65536,
            openHandshakeTimeout=5,
            closeHandshakeTimeout=2,
            failByDrop=False,
        )
    await asyncio.wait_for(loop.create_connection(factory, host, port), TIMEOUT)
    s = await asyncio.wait_for(made, TIMEOUT)
    details = await asyncio.wait_for(s.joined, TIMEOUT)
    return s, details


async def leave(s):
    s.leave()
    details = await asyncio.wait_for(s.left, TIMEOUT)
    await asyncio.wait_for(s.gone, TIMEOUT)
    return details.reason


class Service:
    """The procedures every client registers under its prefix."""

    def __init__(self, session, prefix, topic):
        self.session = session
        self.prefix = prefix
        self.topic = topic
        self.invocations = 0

    async def register(self):
        s, p = self.session, self.prefix
        for proc, name in ((self.echo, "echo"), (self.fail, "fail"), (self.double, "double"), (self.publish, "publish")):
            await asyncio.wait_for(s.register(proc, p + "." + name), TIMEOUT)

    def echo(self, *args, **kwargs):
        self.invocations += 1
        return CallResult(*args, **kwargs)

    def fail(self, *args, **kwargs):
        self.invocations += 1
        raise ApplicationError(ERR_URI, *ERR_ARGS, **ERR_KWARGS)

    def double(self, x):
        self.invocations += 1
        return 2 * x

    async def publish(self, *args, **kwargs):
        # Lets a caller (the browser) see an event published by another
        # client, and learn its publication id to compare.
        self.invocations += 1
        pub = await publish(self.session, self.topic, *args, **kwargs)
        return pub.id


async def exercise(caller, prefix):
    """The caller's side of the RPC cases; returns what came back."""
    out = {}
    step("rpc")
    r = await call(caller, prefix + ".echo", *ARGS, **KWARGS)
    a, k = split_result(r)
    out["rpc"] = {"args": canon(a), "kwargs": canon(k)}

    step("unicode")
    r = await call(caller, prefix + ".echo", UNICODE, **{UNICODE: [UNICODE]})
    a, k = split_result(r)
    out["unicode"] = {"args": canon(a), "kwargs": canon(k)}

    step("app_error")
    try:
        await call(caller, prefix + ".fail", 1, 2, x=3)
        out["app_error"] = {"error": None}
    except Exception as e:
        out["app_error"] = error_of(e)

    step("no_such_procedure")
    try:
        await call(caller, prefix + ".missing")
        out["no_such_procedure"] = None
    except Exception as e:
        out["no_such_procedure"] = error_of(e)["error"]

    step("big")
    r = await call(caller, prefix + ".echo", BIG)
    a, _ = split_result(r)
    got = a[0] if a and isinstance(a[0], str) else ""
    out["big"] = {"len": len(got.encode()), "sha256": hashlib.sha256(got.encode()).hexdigest()}

    step("inflight")
    # Create every call before awaiting any, so all are in flight at once.
    calls = [asyncio.ensure_future(caller.call(prefix + ".double", i)) for i in range(INFLIGHT)]
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), TIMEOUT)
    ok, first_bad = 0, None
    for i, r in enumerate(results):
        if r == 2 * i:
            ok += 1
        elif first_bad is None:
            first_bad = {"i": i, "got": repr(r)}
    out["inflight"] = {"n": INFLIGHT, "ok": ok, "first_bad": first_bad}
    return out


async def pubsub(publisher, subscriber, topic):
    loop = asyncio.get_running_loop()
    events = []
    got = loop.create_future()

    def on_event(*args, **kwargs):
        details = kwargs.pop("details")
        events.append({"args": canon(list(args)), "kwargs": canon(kwargs), "publication": details.publication})
        if len(events) == 2 and not got.done():
            got.set_result(True)

    step("pubsub")
    await asyncio.wait_for(subscriber.subscribe(on_event, topic, options=SubscribeOptions(details=True)), TIMEOUT)
    acks = []
    pub = await publish(publisher, topic, *ARGS, **KWARGS)
    acks.append(pub.id)
    pub = await publish(publisher, topic, UNICODE, **{UNICODE: UNICODE})
    acks.append(pub.id)
    await asyncio.wait_for(got, TIMEOUT)
    return {"acks": acks, "events": events}


async def run_suite(a):
    callee, cd = await connect(a.url, a.serializer)
    caller, kd = await connect(a.url, a.serializer)
    out = {
        "join": {
            "realm": cd.realm,
            "distinct": cd.session != kd.session,
            "ids_positive": cd.session > 0 and kd.session > 0,
        }
    }
    out["session_count"] = await call(caller, "wamp.session.count")
    svc = Service(callee, "interop.py", "interop.topic")
    await svc.register()
    out.update(await exercise(caller, "interop.py"))
    out["pubsub"] = await pubsub(caller, callee, "interop.topic")
    out["invocations"] = svc.invocations
    out["leave"] = [await leave(caller), await leave(callee)]
    return out


def stdin_eof():
    """A future done when stdin reaches EOF: the Go test's "stop serving".

    A reader on the loop rather than a thread blocked in read(), which would
    keep asyncio.run from returning when the router ends the session first.
    """
    loop = asyncio.get_running_loop()
    eof = loop.create_future()
    fd = sys.stdin.fileno()

    def readable():
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            if not eof.done():
                eof.set_result(True)

    loop.add_reader(fd, readable)
    return eof


async def run_service(a):
    s, d = await connect(a.url, a.serializer)
    svc = Service(s, a.prefix, a.topic)
    await svc.register()
    emit({"ready": True, "session": d.session})
    stdin_closed = stdin_eof()
    done, _ = await asyncio.wait([stdin_closed, s.left], timeout=a.serve_for, return_when=asyncio.FIRST_COMPLETED)
    if s.left.done():
        reason = s.left.result().reason  # the router ended the session
        await asyncio.wait_for(s.gone, TIMEOUT)
    else:
        reason = await leave(s)
    return {"invocations": svc.invocations, "leave_reason": reason, "stdin_closed": stdin_closed in done}


async def run_caller(a):
    s, _ = await connect(a.url, a.serializer)
    out = await exercise(s, a.prefix)
    out["leave"] = [await leave(s)]
    return out


async def run_subscribe(a):
    loop = asyncio.get_running_loop()
    s, _ = await connect(a.url, a.serializer)
    got = loop.create_future()

    def on_event(*args, **kwargs):
        details = kwargs.pop("details")
        if not got.done():
            got.set_result({"args": canon(list(args)), "kwargs": canon(kwargs), "publication": details.publication})

    await asyncio.wait_for(s.subscribe(on_event, a.topic, options=SubscribeOptions(details=True)), TIMEOUT)
    emit({"ready": True})
    ev = await asyncio.wait_for(got, TIMEOUT)
    return {"event": ev, "leave": [await leave(s)]}


async def run_publish(a):
    s, _ = await connect(a.url, a.serializer)
    pub = await publish(s, a.topic, *MIXED_ARGS, **MIXED_KWARGS)
    return {"publication": pub.id, "leave": [await leave(s)]}


MODES = {
    "suite": run_suite,
    "service": run_service,
    "caller": run_caller,
    "subscribe": run_subscribe,
    "publish": run_publish,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ws or rs://127.0.0.1:PORT")
    p.add_argument("--serializer", choices=sorted(SERIALIZERS), default="json")
    p.add_argument("--prefix", default="interop.py")
    p.add_argument("--topic", default="interop.topic")
    p.add_argument("--serve-for", type=float, default=60.0, help="service: longest time to serve")
    a = p.parse_args()
    try:
        out = asyncio.run(MODES[a.mode](a))
    except Exception as e:  # the Go test reads the reason from this line
        emit({"fatal": repr(e)})
        return 1
    out.update({"client": "autobahn-python", "serializer": a.serializer, "mode": a.mode})
    emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
