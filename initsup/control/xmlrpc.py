"""supervisord's XML-RPC interface without its transport: a request body in, one
response body out (now, or once the processes concerned have settled).

So that supervisorctl, superlance and the other tools built on supervisord's API run
unchanged, it answers with supervisord's method names, fault codes and fault strings.
It is stricter than supervisord where supervisord was unsafe:

- a body holding a DOCTYPE or an entity declaration is refused before any parsing, and
  so is one that could hide them (UTF-16 or UTF-32, or an XML declaration naming an
  encoding that is not ASCII-compatible): Python's XML parser expands entities;
- a method name is looked up in explicit tables (control/rpcmethods.py and the system
  methods here), never through attributes (CVE-2017-11610);
- arguments are checked against each method's signature, so a wrong type is
  INCORRECT_PARAMETERS, not an internal error.

Bodies are decoded and answers encoded by the standard library's xmlrpc.client only.
This module (and with it xmlrpc.client and expat) is imported on the first HTTP request
that needs it, never at start-up.
"""

from __future__ import annotations

import re
import xmlrpc.client

from initsup.control.rpcbase import NOT_XML, Fault, Later, Method, once
from initsup.control.rpcmethods import METHODS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.control.api import EventFeed, Host
    from initsup.control.rpcbase import Finish

# Encodings a body may declare: those in which "<!DOCTYPE" is the bytes searched for.
ASCII_COMPATIBLE = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin-1"})
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARED = re.compile(rb"""encoding\s*=\s*(?:"([^"]*)"|'([^']*)')""")

# What each parameter type of a signature accepts.
_KINDS: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int),
    "boolean": lambda v: isinstance(v, int),  # supervisord's clients send 1 as well as true
    "array": lambda v: isinstance(v, list),
    "struct": lambda v: isinstance(v, dict),
    "signal": lambda v: isinstance(v, (str, int)),  # a name or a number
    "any": lambda v: True,  # the method checks it (sendProcessStdin's chars)
}


class Refused(Exception):
    """A body answered with an HTTP error instead of an XML-RPC response."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def call(host: Host, feed: EventFeed, body: bytes, answer: Callable[[bytes], None]) -> None:
    """Decode one request body, run its method and call answer(response) exactly once,
    now or later.  Raises Refused, answering nothing, for a body that is not acceptable
    XML-RPC at all: HTTP 400, as supervisord answers malformed XML and a missing method
    name (it has no fault for them)."""
    refusal = refused(body)
    if refusal is not None:
        raise refusal
    try:
        params, name = xmlrpc.client.loads(body, use_builtin_types=True)
    except Exception:  # ExpatError, ValueError, TypeError...: every way XML can be wrong
        raise Refused(400, "malformed XML-RPC request") from None
    if not name:
        raise Refused(400, "XML-RPC request without a method name")
    run(host, name, params, once(lambda outcome: answer(encode(outcome))))


def refused(body: bytes) -> Refused | None:
    """Why a body is refused before it is parsed, or None."""
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        return Refused(400, "XML with a DOCTYPE or an entity declaration is refused")
    if b"\0" in body:  # UTF-16 or UTF-32: markup the check above cannot see
        return Refused(400, "XML-RPC requests are read in UTF-8 only")
    start = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    if start.startswith(b"<?xml"):
        declaration = start[: start.find(b"?>")].lower()
        if b"encoding" in declaration:
            found = _DECLARED.search(declaration)
            encoding = (found.group(1) or found.group(2)) if found else None
            if encoding not in ASCII_COMPATIBLE:
                return Refused(400, "XML-RPC requests are read in UTF-8 only")
    return None


def encode(outcome: Any) -> bytes:
    """A method's value, or a Fault, as a response body."""
    try:
        if isinstance(outcome, Fault):
            text = xmlrpc.client.dumps(xmlrpc.client.Fault(outcome.code, outcome.text))
        else:
            text = xmlrpc.client.dumps((outcome,), methodresponse=True)
    except Exception as exc:  # a value XML-RPC cannot carry: initsup's bug, told as one
        failed = Fault("FAILED", f"the answer could not be encoded: {exc}")
        text = xmlrpc.client.dumps(xmlrpc.client.Fault(failed.code, failed.text))
    if _NOT_XML.search(text):  # a name or an error text with a control character in it
        text = text.translate(NOT_XML)
    return text.encode("utf-8", "replace")


def run(host: Host, name: str, params: tuple[Any, ...], finish: Finish) -> None:
    """Call the method `name` with params; finish(value or Fault) once, now or later."""
    try:
        result = invoke(host, name, params)
        if isinstance(result, Later):
            result.run(finish)
        else:
            finish(result)
    except Fault as fault:
        finish(fault)
    except Exception as exc:  # a method's bug: a FAILED fault, as supervisord's multicall
        finish(Fault("FAILED", f"{type(exc).__name__}: {exc}"))


def invoke(host: Host, name: str, params: tuple[Any, ...]) -> Any:
    """The method's value or Later; Fault UNKNOWN_METHOD for any name not in the tables,
    INCORRECT_PARAMETERS for arguments its signature does not take."""
    method = METHODS.get(name) or SYSTEM.get(name)
    if method is None:  # a probe of private names (CVE-2017-11610) is worth a line
        host.logger.warning(f"XML-RPC: refused a call of {name[:100]!r}: no such method")
        raise Fault("UNKNOWN_METHOD")
    given, most = len(params), len(method.params)
    if not most - method.optional <= given <= most:
        raise Fault("INCORRECT_PARAMETERS")
    if not all(_KINDS[kind](value) for kind, value in zip(method.params, params)):
        raise Fault("INCORRECT_PARAMETERS")
    if method.guarded and (host.shutting_down or host.restarting):
        raise Fault("SHUTDOWN_STATE")
    return method.function(host, *params)


# -- system.* --------------------------------------------------------------------------


def _method(name: str) -> Method:
    method = METHODS.get(name) or SYSTEM.get(name)
    if method is None:
        raise Fault("SIGNATURE_UNSUPPORTED")
    return method


def list_methods(host: Host) -> list[str]:
    return sorted([*METHODS, *SYSTEM])


def method_help(host: Host, name: str) -> str:
    return _method(name).help


def method_signature(host: Host, name: str) -> list[str]:
    return _method(name).signature()


def multicall(host: Host, calls: list[Any]) -> Later:
    """Each call in order, the next once the one before has answered (as supervisord
    runs them); each result is the method's value itself (supervisord's, not wrapped
    in a one-item array) or {faultCode, faultString}."""
    remaining = list(calls)
    results: list[Any] = []

    def run_all(finish: Finish) -> None:
        def step() -> None:
            while remaining:
                member = _Member(results, step)
                _one(host, remaining.pop(0), once(member.answer))
                if not member.returned():
                    return  # its answer comes later, and carries on from there
            finish(results)

        step()

    return Later(run_all)


class _Member:
    """One call of a multicall: its result goes in the list; one that answers later
    resumes the calls after it."""

    def __init__(self, results: list[Any], resume: Callable[[], None]) -> None:
        self._results = results
        self._resume = resume
        self._running = True
        self._answered = False

    def answer(self, outcome: Any) -> None:
        self._results.append(_entry(outcome))
        self._answered = True
        if not self._running:
            self._resume()

    def returned(self) -> bool:
        """The call has returned: whether it answered meanwhile."""
        self._running = False
        return self._answered


def _one(host: Host, call: Any, finish: Finish) -> None:
    if not isinstance(call, dict):
        finish(Fault("INCORRECT_PARAMETERS", "a call is a struct of methodName and params"))
        return
    name, params = call.get("methodName"), call.get("params", [])
    if name is None:
        finish(Fault("INCORRECT_PARAMETERS", "No methodName"))
    elif name == "system.multicall":
        finish(Fault("INCORRECT_PARAMETERS", "Recursive system.multicall forbidden"))
    elif not isinstance(name, str):
        finish(Fault("UNKNOWN_METHOD"))
    elif not isinstance(params, list):
        finish(Fault("INCORRECT_PARAMETERS"))
    else:
        run(host, name, tuple(params), finish)


def _entry(outcome: Any) -> Any:
    if isinstance(outcome, Fault):
        return {"faultCode": outcome.code, "faultString": outcome.text}
    return outcome


SYSTEM: dict[str, Method] = {
    "system.listMethods": Method(
        list_methods, "array", (), "The names of every method.", guarded=False
    ),
    "system.methodHelp": Method(
        method_help, "string", ("string",), "What a method does.", guarded=False
    ),
    "system.methodSignature": Method(
        method_signature,
        "array",
        ("string",),
        "A method's [return type, parameter types...].",
        guarded=False,
    ),
    "system.multicall": Method(
        multicall,
        "array",
        ("array",),
        "Run calls ({methodName, params}) in order: their results, or their faults.",
        guarded=False,
    ),
}
