#!/usr/bin/python3
"""Autobahn|Python logging in to the zwamp daemon with each authmethod it has.

Run by interop/auth_test.go with /usr/bin/python3 (Debian's python3-autobahn,
which has ticket, wampcra with salted secrets, and cryptosign via PyNaCl).
Prints one JSON line: {"joined": true, "details": {...WELCOME's auth keys}}
or {"joined": false, "reason": <ABORT reason>, "message": <ABORT message>}.

  auth.py --url ws://... --realm R --method ticket|wampcra|cryptosign
          --authid ID [--secret S] [--seed HEX32]
"""

import argparse
import asyncio
import binascii
import json
import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp import auth  # noqa: E402
from autobahn.wamp.types import ComponentConfig  # noqa: E402
from autobahn.websocket.util import parse_url  # noqa: E402

TIMEOUT = 30


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Login(ApplicationSession):
    def __init__(self, config, args, done):
        super().__init__(config)
        self.args = args
        self.done = done
        self.key = None
        if args.method == "cryptosign":
            from autobahn.wamp.cryptosign import CryptosignKey

            self.key = CryptosignKey.from_bytes(binascii.a2b_hex(args.seed))

    def onConnect(self):
        a = self.args
        extra = None
        if self.key is not None:
            extra = {"pubkey": self.key.public_key()}
        self.join(self.config.realm, authmethods=[a.method], authid=a.authid or None, authextra=extra)

    def onChallenge(self, challenge):
        a = self.args
        if challenge.method == "ticket":
            return a.secret
        if challenge.method == "wampcra":
            key = a.secret.encode("utf8")
            if "salt" in challenge.extra:
                key = auth.derive_key(a.secret, challenge.extra["salt"],
                                      challenge.extra["iterations"], challenge.extra["keylen"])
            return auth.compute_wcs(key, challenge.extra["challenge"].encode("utf8")).decode("ascii")
        if challenge.method == "cryptosign":
            return self.key.sign_challenge(challenge)
        raise Exception("unexpected challenge " + challenge.method)

    def onJoin(self, details):
        if not self.done.done():
            self.done.set_result({"joined": True, "details": {
                "authid": details.authid, "authrole": details.authrole,
                "authmethod": details.authmethod, "authprovider": details.authprovider,
                "session": details.session}})
        self.leave()

    def onLeave(self, details):
        if not self.done.done():
            self.done.set_result({"joined": False, "reason": details.reason, "message": details.message})
        super().onLeave(details)

    def onDisconnect(self):
        if not self.done.done():
            self.done.set_result({"joined": False, "reason": "transport closed", "message": ""})


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--authid", default="")
    p.add_argument("--secret", default="")
    p.add_argument("--seed", default="")
    args = p.parse_args()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    factory = WampWebSocketClientFactory(lambda: Login(ComponentConfig(realm=args.realm), args, done), url=args.url)
    _, host, port, _, _, _ = parse_url(args.url)
    transport, _ = await asyncio.wait_for(loop.create_connection(factory, host, port), TIMEOUT)
    emit(await asyncio.wait_for(done, TIMEOUT))
    transport.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001
        emit({"fatal": "%s: %s" % (type(e).__name__, e)})
        sys.exit(1)
