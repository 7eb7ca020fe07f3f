"""The conformance runner's judge: hive's rules, table-tested on small answers."""
import sys

import pytest

from conftest import REPO_ROOT, shared_path

sys.path.insert(0, str(REPO_ROOT / "tests" / "conformance"))
from fixtures import FixtureError, parse  # noqa: E402
from judge import Spec, judge  # noqa: E402


def ok(result):
    return {"jsonrpc": "2.0", "id": 1, "result": result}


def err(code, message="m", **extra):
    return {"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message, **extra}}


@pytest.mark.parametrize("ours, theirs, passes", [
    (ok("0x1"), ok("0x1"), True),
    (ok("0x01"), ok("0x1"), False),                          # strings byte for byte
    (ok("0xAB"), ok("0xab"), False),                         # hex case counts
    (ok(1), ok(1.0), True),                                  # numbers as numbers
    (ok(True), ok(1), False),
    (ok({"a": 1, "b": 2}), ok({"b": 2, "a": 1}), True),      # key order does not matter
    (ok({"a": 1, "b": None}), ok({"a": 1}), False),          # an extra field fails
    (ok([1, 2]), ok([2, 1]), False),                         # array order does
    (err(-32000, "ours"), err(-32000, "geth's"), True),      # messages are not compared
    (err(-32000, data="0x1"), err(-32000, data="0x2"), False),
    (err(-32602), err(-32000), False),
    (ok([{"error": {"code": 3, "message": "a"}}]), ok([{"error": {"code": 3, "message": "b"}}]), True),  # nested
    (ok([{"error": {"code": 3}}]), ok([{"error": {"code": 3, "message": "b"}}]), False),
    ({"jsonrpc": "2.0", "id": 2, "result": "0x1"}, ok("0x1"), False),
])
def test_whole_answer_rule(ours, theirs, passes):
    assert (judge(None, "eth_chainId", False, ours, theirs) == []) is passes


@pytest.fixture(scope="module")
def spec():
    return Spec(shared_path("conformance", "execution-apis", "src"))


@pytest.mark.parametrize("result, passes", [
    ("0x1", True),
    ("0x" + "ab" * 32, True),
    ("1", False),
    (7, False),
])
def test_speconly_checks_the_result_schema(spec, result, passes):
    assert (judge(spec, "eth_getBalance", True, ok(result), ok("0x5")) == []) is passes


def test_speconly_error_answer_is_compared_whole(spec):
    assert judge(spec, "eth_getBalance", True, err(-32000), err(-32000)) == []
    assert judge(spec, "eth_getBalance", True, ok("0x1"), err(-32000)) != []


def test_fixture_format(tmp_path):
    path = tmp_path / "eth_x" / "a.io"
    path.parent.mkdir()
    path.write_text('// says what\n// speconly: schema only\n>> {"id":1}\n<< {"id":1,"result":"0x1"}\n'
                    '>> {"id":2}\n<< {"id":2,"result":"0x2"}\n')
    fixture = parse(path)
    assert fixture.name == "eth_x/a" and fixture.speconly and fixture.comment == "says what"
    assert [e.request for e in fixture.exchanges] == ['{"id":1}', '{"id":2}']
    path.write_text('>> {"id":1}\n')
    with pytest.raises(FixtureError):
        parse(path)


def test_each_exchange_is_judged_by_its_own_method(tmp_path, spec):
    """A speconly fixture about one method may first call another (a send before a block build)."""
    path = tmp_path / "testing_buildBlockV1" / "a.io"
    path.parent.mkdir()
    path.write_text('// speconly: schema only\n'
                    '>> {"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}\n'
                    '<< {"jsonrpc":"2.0","id":1,"result":"0x' + "11" * 32 + '"}\n')
    [exchange] = parse(path).exchanges
    assert exchange.method == "eth_sendRawTransaction"
    assert judge(spec, exchange.method, True, ok("0x" + "22" * 32), exchange.response) == []
    assert judge(spec, "testing_buildBlockV1", True, ok("0x" + "22" * 32), exchange.response) != []
