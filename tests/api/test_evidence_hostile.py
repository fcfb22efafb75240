"""Hand-made hostile upload bodies: each gets a precise 4xx problem and leaves no row and no file."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import samples
from tests.api.conftest import PROBLEM_JSON, World, make_case
from tests.api.test_evidence import evidence_of, stored_files

B = "xyz"


def part(name: str, value: bytes, filename: str | None = None, headers: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--{B}\r\nContent-Disposition: {disposition}\r\n{headers}\r\n".encode() + value + b"\r\n"


END = f"--{B}--\r\n".encode()
TYPE = part("evidence_type", b"delivery_proof")
PDF = samples.pdf()

BODIES: dict[str, tuple[bytes, int]] = {
    "no parts": (END, 422),
    "no closing boundary": (TYPE + part("file", PDF, "a.pdf")[:-40], 400),
    "part without a name": (f"--{B}\r\nContent-Disposition: form-data\r\n\r\nx\r\n".encode() + END, 400),
    "two files": (TYPE + part("file", PDF, "a.pdf") + part("file", PDF, "b.pdf") + END, 422),
    "field twice": (TYPE + TYPE + part("text", b"x") + END, 422),
    "unknown field": (TYPE + part("colour", b"red") + END, 422),
    "field not UTF-8": (TYPE + part("text", b"\xff\xfe\xfa") + END, 422),
    "evidence type not UTF-8": (part("evidence_type", b"\xc3") + part("text", b"x") + END, 422),
    "NUL in text": (TYPE + part("text", b"a\x00b") + END, 422),
    "text too long": (TYPE + part("text", b"x" * 10_001) + END, 422),
    "description too long in bytes": (
        TYPE + part("text", b"x") + part("description", "é".encode() * 4_100) + END,
        422,
    ),
    "too many part headers": (TYPE + part("text", b"x", headers="X-A: 1\r\n" * 20) + END, 400),
    "garbage": (b"\x00\x01\x02 not multipart at all", 400),
    "file named with NUL": (TYPE + part("file", PDF, "a\x00.pdf") + END, 201),
    "svg disguised as png": (
        TYPE + part("file", b"<svg onload=alert(1)>", "x.png", "Content-Type: image/png\r\n") + END,
        415,
    ),
    "polyglot pdf after junk": (TYPE + part("file", b"GIF89a" + PDF, "x.pdf") + END, 415),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_hostile_multipart_is_refused_precisely(
    client: TestClient, world: World, settings: Any, name: str
) -> None:
    case = make_case(client, world.order["id"])
    body, status = BODIES[name]
    headers = world.seller_headers | {"Content-Type": f"multipart/form-data; boundary={B}"}
    r = client.post(f"/v1/chargebacks/{case['id']}/evidence", content=body, headers=headers)
    assert r.status_code == status, r.text
    if status == 201:
        assert r.json()["filename"] == "a.pdf"
        return
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["code"]
    assert evidence_of(client, case["id"], world.seller_headers) == []
    assert stored_files(settings) == []
