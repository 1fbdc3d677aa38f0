#!/usr/bin/python3
"""Autobahn|Python against zwamp's advanced RPC features: call canceling,
dealer-enforced call timeouts, progressive call results, call re-routing and
registration revocation.

Run by interop/rpc_advanced_test.go. Reuses client.py's connection helpers;
prints one JSON line per outcome like client.py.

Autobahn|Python 22.7.1 (Debian's) announces call_canceling as caller and
callee, sends CANCEL without a mode (zwamp applies killnowait) and turns an
INTERRUPT into the cancellation of the invocation's coroutine (which here
answers ERROR wamp.error.canceled, see Procedures.slow). It has no
progressive call invocations (its Call message has no progress option), so
that feature is tested in core only.

Modes:
  suite    two sessions of this client: cancel, timeout, a timeout that does
           not fire, progressive results, re-routing (with a third session)
  revoke   wamp.registration.remove_callee against this client's callee
           (the daemon must run with allow_meta_kill)
  service  register adv.slow (runs until interrupted) and adv.stream (three
           progressive results, then a final one) for another client;
           prints {"ready": true}, then {"interrupted": n} when stdin closes
"""

import argparse
import asyncio
import sys

import client  # the sibling script: connect, leave, emit, TIMEOUT
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, RegisterOptions


class Procedures:
    """Callee side: adv.slow waits until it is interrupted, adv.stream sends
    progressive results."""

    def __init__(self, session):
        self.session = session
        loop = asyncio.get_running_loop()
        self.started = asyncio.Queue()
        self.interrupted = asyncio.Queue()
        self.interrupts = 0
        self.loop = loop

    async def slow(self, tag):
        self.started.put_nowait(tag)
        try:
            await asyncio.sleep(client.TIMEOUT)
            return "finished"
        except asyncio.CancelledError:
            # INTERRUPT cancels this coroutine. Re-raising CancelledError
            # would send nothing: txaio's callbacks catch Exception, which
            # CancelledError is not since Python 3.8. An application error
            # is answered, which a kill-mode caller waits for.
            self.interrupts += 1
            self.interrupted.put_nowait(tag)
            raise ApplicationError(ApplicationError.CANCELED, "interrupted")

    async def stream(self, n, details=None):
        for i in range(n):
            details.progress(i)
        return "done"

    async def register(self):
        await self.session.register(self.slow, "adv.slow")
        await self.session.register(self.stream, "adv.stream", options=RegisterOptions(details_arg="details"))


def spy_errors(session):
    """Records the URI of every ERROR the router sends session: autobahn
    drops the ERROR for a call the application already canceled, but only
    after taking the request off its pending list."""
    seen = []
    orig = session.onMessage

    def on_message(msg):
        if isinstance(msg, message.Error):
            seen.append(msg.error)
        return orig(msg)

    session.onMessage = on_message
    return seen


async def settled(session, timeout):
    """Waits until session has no call pending (the router answered them)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while session._call_reqs and loop.time() < end:
        await asyncio.sleep(0.02)
    return not session._call_reqs


async def run_suite(a):
    callee, _ = await client.connect(a.url, a.serializer)
    caller, _ = await client.connect(a.url, a.serializer)
    procs = Procedures(callee)
    await procs.register()
    errors = spy_errors(caller)
    out = {}

    # Cancel: autobahn sends CANCEL (no mode); the router answers ERROR
    # wamp.error.canceled at once and interrupts the callee.
    client.step("cancel")
    f = asyncio.ensure_future(caller.call("adv.slow", "cancel"))
    await asyncio.wait_for(procs.started.get(), client.TIMEOUT)
    f.cancel()
    tag = await asyncio.wait_for(procs.interrupted.get(), client.TIMEOUT)
    out["cancel"] = {
        "callee_interrupted": tag,
        "caller_settled": await settled(caller, client.TIMEOUT),
        "caller_errors": list(errors),
    }

    # Timeout: 300 ms, enforced by the router: ERROR wamp.error.timeout to
    # the caller, INTERRUPT to the callee.
    client.step("timeout")
    errors.clear()
    try:
        r = await asyncio.wait_for(caller.call("adv.slow", "timeout", options=CallOptions(timeout=300)), client.TIMEOUT)
        got = {"result": r}
    except ApplicationError as e:
        got = {"error": e.error}
    tag = await asyncio.wait_for(procs.interrupted.get(), client.TIMEOUT)
    out["timeout"] = dict(got, callee_interrupted=tag)

    # A timeout that does not fire: the result comes first and nothing
    # follows it (a late ERROR for a settled call would be a ProtocolError
    # in autobahn and end the session).
    client.step("timeout not reached")
    r = await asyncio.wait_for(caller.call("adv.stream", 0, options=CallOptions(timeout=5000)), client.TIMEOUT)
    await asyncio.sleep(0.2)
    out["timeout_not_reached"] = r

    # Progressive call results.
    client.step("progressive results")
    progress = []
    r = await asyncio.wait_for(
        caller.call("adv.stream", 3, options=CallOptions(on_progress=lambda v: progress.append(v))), client.TIMEOUT)
    out["progressive"] = {"progress": progress, "final": r}

    # Re-routing: of two callees of a roundrobin registration the first to
    # be called answers wamp.error.unavailable; the dealer hands the call to
    # the other, and the caller only sees that one's result.
    client.step("re-routing")
    other, _ = await client.connect(a.url, a.serializer)
    tried = []

    def unavailable():
        tried.append("unavailable")
        raise ApplicationError("wamp.error.unavailable")

    def available():
        tried.append("available")
        return "served"

    opts = RegisterOptions(invoke="roundrobin")
    await callee.register(unavailable, "adv.shared", options=opts)
    await other.register(available, "adv.shared", options=opts)
    r = await asyncio.wait_for(caller.call("adv.shared"), client.TIMEOUT)
    out["reroute"] = {"result": r, "tried": tried}
    await client.leave(other)

    out["interrupts"] = procs.interrupts
    out["leave"] = [await client.leave(caller), await client.leave(callee)]
    return out


async def run_revoke(a):
    """Registration revocation: an admin session calls
    wamp.registration.remove_callee (the daemon runs with allow_meta_kill);
    the callee, which announces registration_revocation, gets
    [UNREGISTERED, 0, {registration, reason}] and calls no longer reach it."""
    callee, cd = await client.connect(a.url, a.serializer)
    admin, _ = await client.connect(a.url, a.serializer)
    revoked = []
    orig = callee.onMessage

    def on_message(msg):
        if isinstance(msg, message.Unregistered) and msg.request == 0:
            revoked.append({"registration": msg.registration, "reason": msg.reason})
        return orig(msg)

    callee.onMessage = on_message
    reg = await callee.register(lambda: "here", "adv.revocable")
    out = {"before": await client.call(admin, "adv.revocable")}
    client.step("remove_callee")
    out["remove_callee"] = await client.call(
        admin, "wamp.registration.remove_callee", reg.id, cd.session, reason="adv.reason.moving")
    loop = asyncio.get_running_loop()
    end = loop.time() + client.TIMEOUT
    while not revoked and loop.time() < end:
        await asyncio.sleep(0.02)
    out["unregistered"] = [dict(r, registration_matches=r.pop("registration") == reg.id) for r in revoked]
    try:
        out["after"] = await client.call(admin, "adv.revocable")
    except ApplicationError as e:
        out["after"] = {"error": e.error}
    out["leave"] = [await client.leave(admin), await client.leave(callee)]
    return out


async def run_service(a):
    callee, _ = await client.connect(a.url, a.serializer)
    procs = Procedures(callee)
    await procs.register()
    client.emit({"ready": True})
    await asyncio.wait_for(client.stdin_eof(), a.serve_for)
    out = {"interrupted": procs.interrupts}
    out["leave"] = await client.leave(callee)
    return out


MODES = {"suite": run_suite, "service": run_service, "revoke": run_revoke}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("--url", required=True)
    p.add_argument("--serializer", choices=sorted(client.SERIALIZERS), default="json")
    p.add_argument("--serve-for", type=float, default=60.0)
    a = p.parse_args()
    try:
        out = asyncio.run(MODES[a.mode](a))
    except Exception as e:
        client.emit({"fatal": repr(e)})
        return 1
    out.update({"client": "autobahn-python", "serializer": a.serializer, "mode": a.mode})
    client.emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
