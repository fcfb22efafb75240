"""Sending one webhook (Standard Webhooks): signing secrets, signatures, the address check, the POST.

The destination's name is resolved here and every address it gives is checked by the domain's
address policy; the request then goes to the checked address itself (with the original ``Host``
and TLS server name), so a name that answers differently a moment later (DNS rebinding) cannot
redirect the delivery inside our network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from app.domain.webhooks import IPAddress, address_refusal, literal_address

SECRET_PREFIX = "whsec_"


class DestinationRefused(Exception):
    """The endpoint's host resolves to an address a webhook may not reach."""


class DestinationUnresolvable(Exception):
    """The endpoint's host does not resolve."""


def new_salt() -> str:
    return secrets.token_urlsafe(24)


def signing_key(master: bytes, salt: str) -> bytes:
    """The endpoint's HMAC key: derived from the service's key and the stored salt."""
    return hmac.new(master, salt.encode("ascii"), hashlib.sha256).digest()


def secret_text(master: bytes, salt: str) -> str:
    """The secret as shown to the seller once: ``whsec_`` + base64 of the key."""
    return SECRET_PREFIX + base64.b64encode(signing_key(master, salt)).decode("ascii")


def signature(master: bytes, salts: Sequence[str], msg_id: str, at: datetime, body: bytes) -> str:
    """``webhook-signature``: one ``v1,<base64>`` per secret in force, space-separated."""
    return " ".join(Webhook(signing_key(master, salt)).sign(msg_id, at, body) for salt in salts)


def resolve(url: str, allow_private: bool) -> list[IPAddress]:
    """Every address the URL's host resolves to, each allowed by the address policy (blocking DNS:
    call it from a worker thread, never on the event loop)."""
    try:
        httpx.URL(url)  # what ``post`` will send to must parse there too
    except httpx.InvalidURL as exc:
        raise DestinationRefused(f"the URL is not valid ({exc})") from None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = literal_address(host)
    if literal is not None:
        found: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise DestinationUnresolvable(f"{host} does not resolve ({exc})") from None
        found = []
        for info in infos:
            address = literal_address(str(info[4][0]).partition("%")[0])  # drop an IPv6 zone
            if address is not None and address not in found:
                found.append(address)
        if not found:
            raise DestinationUnresolvable(f"{host} does not resolve")
    for address in found:
        reason = address_refusal(address, allow_private)
        if reason is not None:
            raise DestinationRefused(f"{host} resolves to {address}, which {reason}")
    return found


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt: the receiver's status (None when none came) and, on failure, why."""

    status: int | None
    error: str | None = None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    client: httpx.Client, url: str, addresses: Sequence[IPAddress], headers: dict[str, str], body: bytes
) -> Outcome:
    """POST ``body`` to ``url`` at the first of ``addresses`` that takes the connection (with the
    URL's ``Host`` and TLS server name); never follows redirects, never reads the answer's body."""
    parts = urlsplit(url)
    sent = {**headers, "Host": parts.netloc.rpartition("@")[2], "Content-Type": "application/json"}
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    outcome = Outcome(None, "the host has no address")
    for address in addresses:
        target = httpx.URL(url).copy_with(host=str(address))
        try:
            with client.stream("POST", target, content=body, headers=sent, extensions=extensions) as answer:
                status = answer.status_code
                retry_after = answer.headers.get("Retry-After")
        except httpx.ConnectError:
            outcome = Outcome(None, "could not connect to the receiver")
            continue  # nothing was sent: the next address may listen
        except httpx.TimeoutException:
            return Outcome(None, "the receiver did not answer in time")
        except httpx.HTTPError as exc:
            return Outcome(None, f"could not reach the receiver ({type(exc).__name__})")
        if 200 <= status < 300:
            return Outcome(status)
        return Outcome(status, f"the receiver answered {status}", retry_after)
    return outcome
