"""Autobahn|Python over TLS: wss:// and rss:// against the daemon's TLS
listener, verifying the router's certificate against --ca.

Run by interop/tls_test.go. Joins two sessions of this client over TLS,
registers an echo on one and calls it from the other (a 100 KiB payload,
several TLS records), subscribes on one and publishes from the other with
acknowledge; prints one JSON line with what came back.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client  # noqa: E402  (the shared helpers: Peer, serializers, timeouts)
from autobahn.asyncio.rawsocket import WampRawSocketClientFactory, WampRawSocketClientProtocol  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp.types import ComponentConfig, PublishOptions  # noqa: E402


async def connect(url, serializer, ctx):
    loop = asyncio.get_running_loop()
    made = loop.create_future()

    def make():
        s = client.Peer(ComponentConfig(realm="realm1"))
        if not made.done():
            made.set_result(s)
        return s

    ser = client.SERIALIZERS[serializer]()
    rest = url.split("://", 1)[1]
    hostport = rest.split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    if url.startswith("rss://"):
        factory = WampRawSocketClientFactory(make, serializer=ser)
        if not hasattr(WampRawSocketClientProtocol, "transport_details"):
            factory.protocol = client._RawSocketClientProtocol
    else:
        factory = WampWebSocketClientFactory(make, url=url, serializers=[ser])
        factory.setProtocolOptions(maxFramePayloadSize=0, maxMessagePayloadSize=0, openHandshakeTimeout=5)
    await asyncio.wait_for(loop.create_connection(factory, host, int(port), ssl=ctx, server_hostname=host), client.TIMEOUT)
    s = await asyncio.wait_for(made, client.TIMEOUT)
    await asyncio.wait_for(s.joined, client.TIMEOUT)
    return s


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--serializer", default="json")
    p.add_argument("--ca", required=True)
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    out = {}
    callee = await connect(a.url, a.serializer, ctx)
    caller = await connect(a.url, a.serializer, ctx)
    await callee.register(lambda x: x, "com.example.tls.echo")
    big = "z" * (100 << 10)
    res = await asyncio.wait_for(caller.call("com.example.tls.echo", big), client.TIMEOUT)
    out["echo_ok"] = res == big
    got = asyncio.get_running_loop().create_future()
    await callee.subscribe(lambda v: got.done() or got.set_result(v), "com.example.tls.topic")
    await caller.publish("com.example.tls.topic", "over tls", options=PublishOptions(acknowledge=True))
    out["event"] = await asyncio.wait_for(got, client.TIMEOUT)
    for s in (callee, caller):
        s.leave()
        await asyncio.wait_for(s.left, client.TIMEOUT)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
