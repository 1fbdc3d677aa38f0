#!/usr/bin/python3
"""Autobahn|Python against zwamp's advanced pub/sub and session features.

Run by interop/pubsub_advanced_test.go against a daemon configured with event
history on com.adv.hist (3 events) and allow_meta_kill. It reuses client.py's
connection helpers and prints one JSON line with what it observed; the Go test
asserts on it.

  suite  retained events (retain / get_retained), event history
         (wamp.subscription.get_events), testaments published on transport
         loss, wamp.session.kill with reason and message

--serializer also takes json.batched, msgpack.batched and cbor.batched:
Autobahn then negotiates wamp.2.<ser>.batched and unpacks the router's batches.
"""

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client  # noqa: E402  (sets up txaio for asyncio)
from client import TIMEOUT, canon, connect, emit, leave, step  # noqa: E402

from autobahn.wamp.serializer import (  # noqa: E402
    CBORSerializer,
    JsonSerializer,
    MsgPackSerializer,
)
from autobahn.wamp.types import PublishOptions, SubscribeOptions  # noqa: E402

client.SERIALIZERS.update({
    "json.batched": lambda: JsonSerializer(batched=True),
    "msgpack.batched": lambda: MsgPackSerializer(batched=True),
    "cbor.batched": lambda: CBORSerializer(batched=True),
})


async def call(s, proc, *args, **kwargs):
    return await asyncio.wait_for(s.call(proc, *args, **kwargs), TIMEOUT)


async def run_suite(a):
    out = {}
    loop = asyncio.get_running_loop()
    pub, _ = await connect(a.url, a.serializer)
    sub, _ = await connect(a.url, a.serializer)

    step("retention")
    acked = PublishOptions(acknowledge=True, retain=True)
    await asyncio.wait_for(pub.publish("com.adv.retained", "old", options=acked), TIMEOUT)
    await asyncio.wait_for(pub.publish("com.adv.retained", "new", options=acked), TIMEOUT)
    await asyncio.wait_for(pub.publish("com.adv.retained", "not retained", options=PublishOptions(acknowledge=True)), TIMEOUT)
    got = loop.create_future()

    def on_retained(*args, details=None):
        if not got.done():
            got.set_result([list(args), details.retained])

    await asyncio.wait_for(sub.subscribe(on_retained, "com.adv.retained",
                                         options=SubscribeOptions(get_retained=True, details_arg="details")), TIMEOUT)
    out["retained"] = canon(await asyncio.wait_for(got, TIMEOUT))

    step("history")
    hist = await asyncio.wait_for(sub.subscribe(lambda *a, **k: None, "com.adv.hist"), TIMEOUT)
    pubs = []
    for i in range(5):
        p = await asyncio.wait_for(pub.publish("com.adv.hist", i, n=i, options=PublishOptions(acknowledge=True)), TIMEOUT)
        pubs.append(p.id)
    events = await call(sub, "wamp.subscription.get_events", hist.id)
    out["history"] = [[e["args"], e["kwargs"], e["publication"] == pubs[2 + k], e["subscription"] == hist.id]
                      for k, e in enumerate(events)]
    events = await call(sub, "wamp.subscription.get_events", hist.id, limit=1, reverse=True)
    out["history_last"] = [e["args"] for e in events]

    step("testament on transport loss")
    wills = asyncio.Queue()
    await asyncio.wait_for(sub.subscribe(lambda *args, **kw: wills.put_nowait([list(args), kw]), "com.adv.will"), TIMEOUT)
    t1, _ = await connect(a.url, a.serializer)
    await call(t1, "wamp.session.add_testament", "com.adv.will", ["destroyed"], {"who": "t1"})
    await call(t1, "wamp.session.add_testament", "com.adv.will", ["detached"], {"who": "t1"}, scope="detached")
    await call(t1, "wamp.session.add_testament", "com.adv.will", ["flushed"], {}, scope="detached")
    await call(t1, "wamp.session.flush_testaments", scope="detached")
    await call(t1, "wamp.session.add_testament", "com.adv.will", ["detached"], {"who": "t1"}, scope="detached")
    t1._transport.transport.abort()  # no GOODBYE, no close handshake
    out["testament"] = [await asyncio.wait_for(wills.get(), TIMEOUT) for _ in range(2)]

    step("kill")
    k1, kd = await connect(a.url, a.serializer)
    await call(k1, "wamp.session.add_testament", "com.adv.will", ["killed"], {})
    await call(sub, "wamp.session.kill", kd.session, reason="com.adv.killed", message="bye")
    left = await asyncio.wait_for(k1.left, TIMEOUT)
    out["kill"] = [left.reason, left.message, await asyncio.wait_for(wills.get(), TIMEOUT)]
    await asyncio.wait_for(k1.gone, TIMEOUT)

    out["leave"] = [await leave(pub), await leave(sub)]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["suite"])
    p.add_argument("--url", required=True)
    p.add_argument("--serializer", choices=sorted(client.SERIALIZERS), default="json")
    a = p.parse_args()
    try:
        out = asyncio.run(run_suite(a))
    except Exception as e:
        emit({"fatal": repr(e)})
        return 1
    out.update({"client": "autobahn-python", "serializer": a.serializer})
    emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
