"""The XML-RPC endpoint in-process: what it refuses before parsing, how it dispatches,
its faults, the system.* methods and multicall, against supervisord's own source where
that is cheap (its Faults, its method listing and signatures).

Requests are encoded with client.dumps and answers decoded with loads, as a
client would.
"""

from __future__ import annotations

import os
from typing import Any
from xmlrpc import client

import pytest
from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.tests.base import DummyOptions, DummySupervisor
from supervisor.xmlrpc import Faults, SystemNamespaceRPCInterface

from initsup.control import rpcbase, rpcmethods
from initsup.control import xmlrpc as rpc
from tests.control_host import ControlHost


def request(host: ControlHost, name: str, *params: Any) -> list[bytes]:
    """The answers to one call (none yet, or exactly one)."""
    answers: list[bytes] = []
    rpc.call(host, host.feed, client.dumps(params, name).encode(), answers.append)
    return answers


def value(answers: list[bytes]) -> Any:
    assert len(answers) == 1
    (result,), _ = client.loads(answers[0])
    return result


def fault(answers: list[bytes]) -> tuple[int, str]:
    assert len(answers) == 1
    with pytest.raises(client.Fault) as caught:
        client.loads(answers[0])
    return caught.value.faultCode, caught.value.faultString


def refused(body: bytes, reason: str = "") -> int:
    answers: list[bytes] = []
    with pytest.raises(rpc.Refused) as caught:
        rpc.call(ControlHost(), ControlHost().feed, body, answers.append)
    assert answers == []
    assert reason in caught.value.reason
    return caught.value.status


CALL = client.dumps((), "supervisor.getPID").encode()
BODY = CALL.split(b"\n", 1)[1]  # without the XML declaration


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + BODY,
        b"<!doctype methodCall>" + BODY,
        BODY.replace(b"<params>", b"<params><!EnTiTy x 'y'>"),
        BODY + b"<!DOCTYPE",
    ],
)
def test_a_doctype_or_entity_anywhere_is_refused_before_parsing(body: bytes) -> None:
    assert refused(body, "DOCTYPE or an entity") == 400


@pytest.mark.parametrize(
    "body",
    [
        "<?xml version='1.0' encoding='utf-16'?>".encode("utf-16") + BODY,
        b"<?xml version='1.0' encoding='cp500'?>" + BODY,
        b'<?xml version="1.0" encoding="utf-7"?>' + BODY,
    ],
)
def test_encodings_that_could_hide_markup_are_refused(body: bytes) -> None:
    assert refused(body, "UTF-8 only") == 400


@pytest.mark.parametrize("encoding", ["UTF-8", "iso-8859-1", "us-ascii"])
def test_ascii_compatible_declarations_are_read(encoding: str) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode() + BODY
    answers: list[bytes] = []
    rpc.call(ControlHost(), None, body, answers.append)  # type: ignore[arg-type]
    assert value(answers) == os.getpid()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<methodCall><methodName>x</methodName>",  # unfinished
        client.dumps(("x",), methodresponse=True).encode(),  # no method name
        b"<methodCall><methodName></methodName></methodCall>",
        b"<methodCall><methodName>x</methodName><params><param><value><int>z</int>"
        b"</value></param></params></methodCall>",
    ],
)
def test_malformed_requests_are_400_as_supervisord_answers_them(body: bytes) -> None:
    assert refused(body) == 400


def test_fault_codes_are_supervisords() -> None:
    theirs = {k: v for k, v in vars(Faults).items() if not k.startswith("_")}
    assert theirs == rpcbase.FAULTS


@pytest.mark.parametrize(
    "name",
    [
        "supervisor._update",
        "supervisor.__init__",
        "supervisor.options.mood",
        "supervisor.options.getPID",
        "system.supervisor.getPID",
        "supervisor.supervisord.options.logger",
        "supervisor.getPID.__class__",
        "supervisor.namespec",  # a control API function, not a method
        "nope",
        "system.nope",
        "__class__",
        "",
    ],
)
def test_names_outside_the_table_are_unknown_methods(name: str) -> None:
    host = ControlHost()
    if not name:  # an empty name at the top level is a malformed request
        assert refused(client.dumps((), name).encode()) == 400
        name = ""
    calls = [{"methodName": name, "params": []}]
    assert value(request(host, "system.multicall", calls)) == [
        {"faultCode": 1, "faultString": "UNKNOWN_METHOD"}
    ]
    if name:
        assert fault(request(host, name)) == (1, "UNKNOWN_METHOD")


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("supervisor.getPID", (1,)),
        ("supervisor.startProcess", ()),
        ("supervisor.startProcess", (1,)),
        ("supervisor.startProcess", ("a", True, 3)),
        ("supervisor.startProcess", ("a", "yes")),
        ("supervisor.readProcessStdoutLog", ("a", "0", 10)),
        ("supervisor.signalProcess", ("a", [1])),
        ("system.multicall", ({"methodName": "x"},)),
    ],
)
def test_wrong_arguments_are_incorrect_parameters(name: str, params: tuple[Any, ...]) -> None:
    host = ControlHost()
    host.add("a")
    assert fault(request(host, name, *params)) == (2, "INCORRECT_PARAMETERS")
    assert host.spawns == []


def test_versions_identity_and_pid() -> None:
    from supervisor.options import VERSION

    host = ControlHost()
    host.config.options.identifier = "box-7"
    assert value(request(host, "supervisor.getAPIVersion")) == "3.0"
    assert value(request(host, "supervisor.getVersion")) == "3.0"
    assert value(request(host, "supervisor.getSupervisorVersion")) == VERSION
    assert value(request(host, "supervisor.getIdentification")) == "box-7"
    assert value(request(host, "supervisor.getPID")) == os.getpid()


def test_state_and_the_shutdown_state_fault() -> None:
    """While initsup restarts or shuts down, supervisor.* methods fault SHUTDOWN_STATE
    (supervisorctl says "shutting down"); getState still answers, with the state."""
    host = ControlHost()
    assert value(request(host, "supervisor.getState")) == {"statecode": 1, "statename": "RUNNING"}
    host.restarting = True
    assert value(request(host, "supervisor.getState")) == {
        "statecode": 0,
        "statename": "RESTARTING",
    }
    assert fault(request(host, "supervisor.getVersion")) == (6, "SHUTDOWN_STATE")
    host.restarting, host.shutting_down = False, True
    assert value(request(host, "supervisor.getState"))["statecode"] == -1
    assert fault(request(host, "supervisor.getAllProcessInfo")) == (6, "SHUTDOWN_STATE")
    assert value(request(host, "system.listMethods"))
    # arguments are checked first, as supervisord's call does
    assert fault(request(host, "supervisor.getPID", 1)) == (2, "INCORRECT_PARAMETERS")


def _supervisords_system() -> SystemNamespaceRPCInterface:
    interface = SupervisorNamespaceRPCInterface(DummySupervisor(DummyOptions(), "x"))
    return SystemNamespaceRPCInterface([("supervisor", interface)])


def test_the_method_listing_and_signatures_are_supervisords() -> None:
    theirs = _supervisords_system()
    names = value(request(ControlHost(), "system.listMethods"))
    assert names == theirs.listMethods()
    for name in names:
        mine = value(request(ControlHost(), "system.methodSignature", name))
        assert mine == theirs.methodSignature(name), name
        assert value(request(ControlHost(), "system.methodHelp", name))


def test_help_and_signature_of_an_unknown_method() -> None:
    host = ControlHost()
    assert fault(request(host, "system.methodHelp", "x.y")) == (4, "SIGNATURE_UNSUPPORTED")
    assert fault(request(host, "system.methodSignature", "x")) == (4, "SIGNATURE_UNSUPPORTED")


def test_multicall_gives_values_and_member_faults_in_order() -> None:
    host = ControlHost()
    calls = [
        {"methodName": "supervisor.getAPIVersion", "params": []},
        {"methodName": "supervisor.getProcessInfo", "params": ["nope"]},
        {"params": []},
        {"methodName": "system.multicall", "params": [[]]},
        {"methodName": "supervisor.getState"},
        "not a struct",
    ]
    results = value(request(host, "system.multicall", calls))
    assert results[0] == "3.0"  # the value itself, as supervisord gives it
    assert results[1] == {"faultCode": 10, "faultString": "BAD_NAME: nope"}
    assert results[2] == {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS: No methodName"}
    assert results[3] == {
        "faultCode": 2,
        "faultString": "INCORRECT_PARAMETERS: Recursive system.multicall forbidden",
    }
    assert results[4]["statename"] == "RUNNING"
    assert results[5]["faultCode"] == 2
    assert value(request(host, "system.multicall", [])) == []


def test_multicall_waits_for_each_member_before_the_next() -> None:
    """A start that waits holds the calls after it: they see the process RUNNING."""
    host = ControlHost()
    host.add("a")
    calls = [
        {"methodName": "supervisor.startProcess", "params": ["a"]},
        {"methodName": "supervisor.getProcessInfo", "params": ["a"]},
        {"methodName": "supervisor.startProcess", "params": ["a"]},
    ]
    answers = request(host, "system.multicall", calls)
    assert answers == []
    host.advance(1)
    started, info, again = value(answers)
    assert started is True and info["statename"] == "RUNNING"
    assert again == {"faultCode": 60, "faultString": "ALREADY_STARTED: a"}


def test_a_method_that_breaks_is_a_failed_fault() -> None:
    host = ControlHost()
    host.processes = None  # type: ignore[assignment]
    code, text = fault(request(host, "supervisor.getAllProcessInfo"))
    assert code == 30 and text.startswith("FAILED: AttributeError")


def test_every_table_entry_is_callable_with_its_signature() -> None:
    """The tables hold what system.listMethods lists, and nothing reachable otherwise."""
    assert set(rpcmethods.METHODS) | set(rpc.SYSTEM) == set(
        value(request(ControlHost(), "system.listMethods"))
    )
    for name, method in {**rpcmethods.METHODS, **rpc.SYSTEM}.items():
        assert name.count(".") == 1 and "._" not in name
        assert callable(method.function)


def test_characters_xml_cannot_carry_never_reach_the_answer() -> None:
    """A spawn error holding an escape character still gives a parseable answer."""
    from initsup.process import SpawnFailed

    host = ControlHost()
    host.add("a")
    host.fail_spawns.append(SpawnFailed("bad \x1b[31mthing\x00", 126))
    request(host, "supervisor.startProcess", "a", False)
    info = value(request(host, "supervisor.getProcessInfo", "a"))
    assert info["spawnerr"] == "bad \ufffd[31mthing\ufffd"


@pytest.mark.parametrize("detail", [None, "web", "pool:w1", 7])
def test_fault_strings_are_worded_as_supervisords_rpc_errors(detail: object) -> None:
    from supervisor.xmlrpc import RPCError

    for name, code in rpcbase.FAULTS.items():
        mine, theirs = rpcbase.Fault(name, detail), RPCError(code, detail)
        assert (mine.code, mine.text) == (theirs.code, theirs.text)
