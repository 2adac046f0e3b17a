"""The guarded outbound client against a real server on loopback."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from roost.tools.security.outbound import (
    AddressRefused,
    ConnectionFailed,
    InvalidURL,
    Limits,
    ResponseTooLarge,
    address_problem,
    fetch,
)
from tests.http_receiver import Answer, Receiver, self_signed


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://localhost/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://2130706433/",  # 127.0.0.1 written as one number
    ],
)
async def test_private_and_special_addresses_are_refused(url: str) -> None:
    with pytest.raises(AddressRefused, match="refused to connect"):
        await fetch("GET", url)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", ""),
        ("2606:4700:4700::1111", ""),
        ("169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("240.0.0.1", "address"),  # reserved (Python counts it as private)
    ],
)
def test_address_judgements(address: str, problem: str) -> None:
    found = address_problem(ipaddress.ip_address(address))
    assert (problem in found) if problem else found == ""


async def test_an_allowed_host_is_reached_by_name_with_the_pinned_address() -> None:
    with Receiver(Answer(201, b"created")) as receiver:
        url = f"http://localhost:{receiver.port}/hook?x=1"
        with pytest.raises(AddressRefused, match="localhost"):
            await fetch("POST", url, content=b"{}")
        res = await fetch(
            "POST",
            url,
            content=b'{"a":1}',
            headers={"content-type": "application/json"},
            allow=["localhost"],
        )
    assert (res.status_code, res.content) == (201, b"created")
    assert ipaddress.ip_address(res.address).is_loopback
    [seen] = receiver.received
    assert (seen.method, seen.path, seen.body) == ("POST", "/hook?x=1", b'{"a":1}')
    assert seen.headers["host"] == f"localhost:{receiver.port}"


async def test_an_allowed_network_lets_an_address_through() -> None:
    with Receiver() as receiver:
        res = await fetch("GET", receiver.url, allow=["127.0.0.0/8"])
    assert res.status_code == 200


async def test_redirects_are_returned_not_followed() -> None:
    with Receiver(
        Answer(302, b"", {"location": "http://169.254.169.254/"}), Answer(200, b"followed")
    ) as receiver:
        res = await fetch("GET", receiver.url, allow=["127.0.0.1"])
    assert res.status_code == 302 and res.headers["location"] == "http://169.254.169.254/"
    assert len(receiver.received) == 1


async def test_answers_over_the_size_cap_stop_the_read() -> None:
    with Receiver(Answer(200, b"x" * 5000)) as receiver:
        with pytest.raises(ResponseTooLarge):
            await fetch(
                "GET", receiver.url, allow=["127.0.0.1"], limits=Limits(max_response_bytes=1000)
            )
        res = await fetch(
            "GET", receiver.url, allow=["127.0.0.1"], limits=Limits(max_response_bytes=5000)
        )
    assert len(res.content) == 5000


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost", "not a url"]
)
async def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(InvalidURL):
        await fetch("GET", url)


async def test_tls_goes_to_the_pinned_address_but_checks_the_name(tmp_path: Path) -> None:
    server_tls, trusted = self_signed("localhost", str(tmp_path))
    with Receiver(Answer(200, b"secure"), tls=server_tls) as receiver:
        url = f"https://localhost:{receiver.port}/"
        res = await fetch("GET", url, allow=["localhost"], verify=trusted)
        assert (res.status_code, res.content) == (200, b"secure")
        with pytest.raises(
            ConnectionFailed
        ):  # the certificate is for localhost, not for the address
            await fetch(
                "GET", f"https://127.0.0.1:{receiver.port}/", allow=["127.0.0.1"], verify=trusted
            )
        with pytest.raises(ConnectionFailed):  # and not trusted by default
            await fetch("GET", url, allow=["localhost"])
    assert receiver.server_names[0] == "localhost"
    assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"
