"""Delivery adapters: email over SMTP, SMS over the HTTP gateway. Each raises ``DeliveryError`` on failure."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime
from typing import BinaryIO

import httpx

from app.core.config import Settings
from app.models.outbox import OutboxMessage

log = logging.getLogger("chargeback_desk.notify")


class ChannelDisabled(Exception):
    """The channel is not configured (no SMTP host, no SMS gateway): the message is held, not sent."""


class DeliveryError(Exception):
    """The message could not be delivered now; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def message_id(outbox_id: str, mail_from: str) -> str:
    """Stable across retries, so a receiver can drop a duplicate of a message it already has."""
    domain = mail_from.rpartition("@")[2] or "chargeback-desk.local"
    return f"<{outbox_id}@{domain}>"


Opener = Callable[[str], BinaryIO]  # a stored object's bytes by key (the evidence storage)


def build_email(msg: OutboxMessage, settings: Settings, open_stored: Opener | None = None) -> EmailMessage:
    email = EmailMessage()
    email["From"] = str(msg.headers.get("From") or settings.mail_from)
    email["To"] = msg.recipient
    # Headers are one line: a line break in data (an order reference, say) must not add headers.
    email["Subject"] = " ".join((msg.subject or "").split())
    email["Message-ID"] = message_id(msg.id, settings.mail_from)
    email["Date"] = format_datetime(msg.created_at)
    for name, value in msg.headers.items():
        if name.startswith("X-"):
            email[name] = str(value)
    email.set_content(msg.body)
    for attachment in msg.headers.get("attachments") or []:
        if open_stored is None:
            raise DeliveryError("this message has attachments but no storage to read them", permanent=True)
        try:
            with open_stored(str(attachment["key"])) as stored:
                data = stored.read()
        except FileNotFoundError:
            raise DeliveryError(f"attachment {attachment['key']} is missing", permanent=True) from None
        except OSError as exc:
            raise DeliveryError(f"attachment {attachment['key']}: {exc}") from None
        maintype, _, subtype = str(attachment.get("content_type", "application/octet-stream")).partition("/")
        email.add_attachment(data, maintype=maintype, subtype=subtype, filename=str(attachment["filename"]))
    return email


def send_email(msg: OutboxMessage, settings: Settings, open_stored: Opener | None = None) -> None:
    if not settings.smtp_host:
        raise ChannelDisabled("SMTP_HOST is unset")
    email = build_email(msg, settings, open_stored)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(email)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None


def send_sms(msg: OutboxMessage, settings: Settings, client: httpx.Client) -> None:
    if not settings.sms_gateway_url:
        raise ChannelDisabled("SMS_GATEWAY_URL is unset")
    try:
        response = client.post(
            settings.sms_gateway_url,
            json={"to": msg.recipient, "text": msg.body},
            headers={"Idempotency-Key": msg.id},
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"SMS gateway: {type(exc).__name__}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise DeliveryError(f"SMS gateway answered {response.status_code}")
    if response.status_code >= 400:
        raise DeliveryError(f"SMS gateway refused the message: {response.status_code}", permanent=True)
