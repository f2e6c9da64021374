"""Error groups (orders/error_groups.py): the failures of one outage fall into one group, different
failures stay apart, whatever ids, numbers, addresses or URLs each message carries."""

from __future__ import annotations

import pytest

from orders.error_groups import MAX_CHARS, error_group

URLLIB3_REFUSED = (
    "Fulfilment endpoint unreachable: HTTPConnectionPool(host='{host}', port={port}): Max retries exceeded with "
    "url: /fulfil (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at {address}>: "
    "Failed to establish a new connection: [Errno 111] Connection refused'))."
)


@pytest.mark.parametrize(
    ("message", "group"),
    [
        ("Fulfilment endpoint answered 503.", "Fulfilment endpoint answered 503."),
        ("Fulfilment endpoint refused the order: HTTP 422.", "Fulfilment endpoint refused the order: HTTP 422."),
        ("Order 3f2b6c1e-9a4d-4c1b-8e2f-1234567890ab failed", "Order <uuid> failed"),
        ("Order 3f2b6c1e9a4d4c1b8e2f1234567890ab failed", "Order <uuid> failed"),
        ("The fulfilment URL http://10.1.2.3:8080/x?id=5 is not allowed.", "The fulfilment URL <url> is not allowed."),
        ("connect to 10.0.0.7:8443 refused", "connect to <address> refused"),
        ("object at 0x7f3a2b1c4d90 closed", "object at <hex> closed"),
        ("token deadbeefdeadbeefdeadbeef expired", "token <hex> expired"),
        ("Stuck in executing for 3600 seconds (limit 3600).", "Stuck in executing for <n> seconds (limit <n>)."),
        ("timeout after 30.5 s", "timeout after <n> s"),
        ("took 12.5s, sent 512kB in 30ms", "took <n>, sent <n> in <n>"),
        ("QOS 42 exceeded for job 12.", "QOS <n> exceeded for job <n>."),
        ("HTTP 404 for /api/v2/items/12/", "HTTP 404 for /api/v2/items/<n>/"),
        ("version v1.2.3 is too old", "version v1.2.3 is too old"),  # part of a word: kept
        ("a   lot\tof    space", "a lot of space"),
    ],
)
def test_variable_parts_are_replaced_and_the_rest_is_kept(message, group):
    assert error_group(message) == group


def test_http_status_codes_are_kept_so_that_different_outages_stay_apart():
    assert error_group("Fulfilment endpoint answered 503.") != error_group("Fulfilment endpoint answered 502.")
    assert error_group("refused: HTTP 400") != error_group("refused: HTTP 409")
    assert error_group("HTTP 503 then HTTP 504") == "HTTP 503 then HTTP 504"


def test_the_failures_of_one_outage_fall_into_one_group_whatever_address_port_and_object_they_name():
    groups = {
        error_group(URLLIB3_REFUSED.format(host=host, port=port, address=address))
        for host, port, address in (
            ("127.0.0.1", 8443, "0x7f3a2b1c4d90"),
            ("10.20.30.40", 9000, "0x7f00deadbeef"),
            ("192.168.1.1", 80, "0x10"),
        )
    }

    assert len(groups) == 1
    assert groups.pop().startswith("Fulfilment endpoint unreachable: HTTPConnectionPool(host='<address>', port=<n>)")


def test_a_group_is_the_first_non_empty_line():
    assert error_group("  \n  \nBackend down\nTraceback (most recent call last):\n  File x") == "Backend down"


@pytest.mark.parametrize("message", ["", "   \n\t ", None])
def test_an_empty_message_has_a_group_of_its_own(message):
    assert error_group(message) == "(no message)"


def test_a_long_message_is_cut_so_that_groups_stay_short():
    group = error_group("word " * 200)

    assert len(group) == MAX_CHARS
    assert error_group("word " * 200 + "tail differs") == group
