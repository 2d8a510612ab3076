"""How an email leaves healthgate: by SMTP (production) or printed to standard output (the console sender,
the default when no SMTP host is configured); and how a webhook does (a signed POST, ``WebhookSender``).

A sender raises ``TransientFailure`` for a problem that may go away (connection refused, time-out, a 4xx
reply: the worker retries later with backoff) and ``PermanentFailure`` for one that will not (a 5xx reply,
an address or header that cannot be sent: the message is dead at once, its error kept).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import smtplib
import socket
import ssl
import string
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import httpx

from healthgate.config import Settings

log = logging.getLogger(__name__)


class DeliveryFailure(Exception):
    """A message could not be delivered; ``str(exc)`` is what the outbox keeps as its last error."""


class TransientFailure(DeliveryFailure):
    """Try again later."""


class PermanentFailure(DeliveryFailure):
    """Never try again: the message is dead."""


@dataclass(frozen=True, slots=True)
class Email:
    """One email as the outbox holds it: ``outbox_id`` and ``created_at`` name it (its Message-ID is made from
    them, so a receiver can recognise a redelivery)."""

    outbox_id: int
    to: tuple[str, ...]
    subject: str
    body: str
    created_at: datetime
    html: str | None = None
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, outbox_id: int, created_at: datetime, payload: dict[str, Any]) -> Email:
        """The email an outbox payload describes; a payload that cannot be an email is a PermanentFailure."""
        to = payload.get("to")
        recipients = (to,) if isinstance(to, str) else tuple(to) if isinstance(to, list) else ()
        if not recipients or not all(isinstance(r, str) and r.strip() for r in recipients):
            raise PermanentFailure("the message has no recipient ('to' must be an address or a list of them)")
        subject, body = payload.get("subject"), payload.get("body")
        if not isinstance(subject, str) or not isinstance(body, str):
            raise PermanentFailure("the message needs a text 'subject' and 'body'")
        html = payload.get("html")
        reply_to = payload.get("reply_to")
        return cls(outbox_id, recipients, subject, body, created_at,
                   html if isinstance(html, str) else None, reply_to if isinstance(reply_to, str) else None)

    def message_id(self, sender: str) -> str:
        domain = parseaddr(sender)[1].rpartition("@")[2] or "healthgate.invalid"
        return f"<outbox.{self.outbox_id}.{int(self.created_at.timestamp())}@{domain}>"

    def to_message(self, sender: str) -> EmailMessage:
        """The RFC 5322 message; a header that cannot be written (a line break in the subject, a malformed
        address) is a PermanentFailure naming the header."""
        msg = EmailMessage()
        for name, value in (("From", sender), ("To", ", ".join(self.to)), ("Subject", self.subject),
                            ("Date", format_datetime(self.created_at)),
                            ("Message-ID", self.message_id(sender)),
                            ("X-Healthgate-Outbox-Id", str(self.outbox_id)),
                            *((("Reply-To", self.reply_to),) if self.reply_to else ())):
            try:
                msg[name] = value
            except (ValueError, IndexError, TypeError) as exc:
                raise PermanentFailure(f"the {name} header cannot be sent: {exc}") from None
        msg.set_content(self.body)
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html")
        for header in ("To", "From", "Reply-To"):
            if header in msg:
                try:
                    addresses: Sequence[Address] = msg[header].addresses
                    if not addresses or any(not a.addr_spec or "@" not in a.addr_spec for a in addresses):
                        raise ValueError("not an email address")
                except (ValueError, IndexError, AttributeError) as exc:
                    raise PermanentFailure(f"the {header} address {msg[header]!s:.200} is malformed: {exc}") \
                        from None
        return msg


class Sender(Protocol):
    """Delivers emails. A worker thread owns its sender; ``close`` ends any connection kept between sends."""

    def send(self, email: Email) -> None: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


class ConsoleSender:
    """Prints each email in full to a stream (standard output by default). For development: emails carry
    single-use links (verification, password reset), so production configures SMTP instead."""

    def __init__(self, sender: str, stream: TextIO | None = None):
        self.sender = sender
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, email: Email) -> None:
        msg = email.to_message(self.sender)
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(f"----- email (outbox {email.outbox_id}) -----\n{msg.as_string()}\n"
                         f"----- end of email (outbox {email.outbox_id}) -----\n")
            stream.flush()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "console (emails are printed to standard output)"


class SmtpSender:
    """SMTP with optional STARTTLS and login; one connection is kept across the sends of a batch."""

    def __init__(self, host: str, port: int, sender: str, *, username: str | None = None,
                 password: str | None = None, starttls: bool = True, timeout: float = 30.0,
                 tls_context: ssl.SSLContext | None = None):
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout
        self.tls_context = tls_context
        self._conn: smtplib.SMTP | None = None

    def describe(self) -> str:
        return f"smtp://{self.host}:{self.port}" + (" (STARTTLS)" if self.starttls else "")

    def _connect(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=self.tls_context or ssl.create_default_context())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except BaseException:
            _quietly_close(conn)
            raise
        return conn

    def send(self, email: Email) -> None:
        msg = email.to_message(self.sender)
        for reuse in (True, False):
            fresh = self._conn is None
            try:
                if self._conn is None:
                    self._conn = self._connect()
                refused = self._conn.send_message(msg)
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if reuse and not fresh:  # the kept connection had gone stale: one more try on a new one
                    continue
                raise TransientFailure(f"the SMTP server closed the connection: {exc}") from None
            except smtplib.SMTPAuthenticationError as exc:  # the settings are wrong: retried once they are fixed
                self.close()
                raise TransientFailure(f"the SMTP server refused the login: {exc.smtp_code}") from None
            except smtplib.SMTPRecipientsRefused as exc:
                self.close()
                raise _failure("every recipient was refused", exc.recipients) from None
            except smtplib.SMTPResponseException as exc:
                self.close()
                reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
                    else str(exc.smtp_error)
                kind = PermanentFailure if 500 <= exc.smtp_code < 600 else TransientFailure
                raise kind(f"the SMTP server answered {exc.smtp_code} {reply}") from None
            except (TimeoutError, smtplib.SMTPException, OSError) as exc:
                self.close()
                raise TransientFailure(f"cannot deliver through {self.host}:{self.port}: "
                                       f"{type(exc).__name__}: {exc}") from None
            if refused:  # some recipients accepted, some refused: keep what was said about the others
                raise PermanentFailure(_refusals("some recipients were refused", refused))
            return

    def close(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None


def _refusals(prefix: str, refused: dict[str, tuple[int, bytes]]) -> str:
    parts = [f"{addr}: {code} {reply.decode(errors='replace')}" for addr, (code, reply) in refused.items()]
    return f"{prefix} ({'; '.join(parts)})"


def _failure(prefix: str, refused: dict[str, tuple[int, bytes]]) -> DeliveryFailure:
    """Refused recipients: permanent only if every refusal was a 5xx."""
    permanent = all(500 <= code < 600 for code, _ in refused.values())
    return (PermanentFailure if permanent else TransientFailure)(_refusals(prefix, refused))


def _quietly_close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def sender_from_settings(settings: Settings, stream: TextIO | None = None) -> Sender:
    """SMTP when ``smtp_host`` is set, else the console sender."""
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpSender(settings.smtp_host, settings.smtp_port, settings.email_from,
                          username=settings.smtp_username, password=password, starttls=settings.smtp_starttls,
                          timeout=settings.smtp_timeout_seconds)
    return ConsoleSender(settings.email_from, stream)


# -- templates resolved at send time ------------------------------------------------------------------------
# A payload marked ``"template": "base_url"`` holds ``string.Template`` strings in which ``$base_url`` stands for
# the configured base URL (``$$`` is a literal ``$``): links are made with the address the site has when the
# message leaves, not whatever the code that queued it could guess. See docs/access-notify.md.

TEMPLATE_BASE_URL = "base_url"


def resolve_template(value: Any, base_url: str) -> Any:
    """``value`` (a string, or lists and dicts of them) with ``$base_url`` substituted in every string."""
    if isinstance(value, str):
        return string.Template(value).safe_substitute(base_url=base_url.rstrip("/"))
    if isinstance(value, list):
        return [resolve_template(v, base_url) for v in value]
    if isinstance(value, dict):
        return {k: resolve_template(v, base_url) for k, v in value.items()}
    return value


def resolved(payload: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The payload as it is sent: templated strings resolved when the payload asks for it."""
    if payload.get("template") != TEMPLATE_BASE_URL:
        return payload
    return {k: (resolve_template(v, base_url) if k != "template" else v) for k, v in payload.items()}


# -- webhooks -----------------------------------------------------------------------------------------------


SIGNATURE_HEADER = "X-Healthgate-Signature"
TIMESTAMP_HEADER = "X-Healthgate-Timestamp"
EVENT_ID_HEADER = "X-Healthgate-Event-Id"
EVENT_HEADER = "X-Healthgate-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_webhook_url(url: str, *, allow_http: bool) -> str | None:
    """Why ``url`` cannot receive webhooks, or None when it can: https (http only when allowed), a host, no
    user name or password in it, no fragment."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// URL"
    if parts.scheme == "http" and not allow_http:
        return "must be https:// (plain http is allowed only when HEALTHGATE_WEBHOOK_ALLOW_HTTP is set)"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if parts.fragment:
        return "must not have a #fragment"
    if not allow_http:  # production: a literal address must be public (names are checked when sending)
        try:
            literal = ipaddress.ip_address(parts.hostname.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None and not literal.is_global:
            return "must be on the public internet, not this machine or a private network"
        if parts.hostname.lower() in ("localhost", "localhost.localdomain") or \
                parts.hostname.lower().endswith(".localhost"):
            return "must be on the public internet, not this machine"
    return None


def private_address(host: str) -> str | None:
    """The first address ``host`` resolves to that is not on the public internet (loopback, private,
    link-local such as a cloud's metadata service, reserved), or None. A name that does not resolve is a
    transient failure."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientFailure(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return str(address)
    return None


class WebhookSender:
    """POSTs one signed JSON body to a custodian's URL. Never follows a redirect (a 3xx is a permanent
    failure: the registered URL is wrong); a time-out, a connection error, 408, 425, 429 or a 5xx is
    transient (retried with backoff); any other 4xx is permanent. Unless ``allow_private``, a URL whose host
    resolves to an address outside the public internet (this machine, a private network, a cloud metadata
    service) is refused, so a webhook cannot be used to reach the server's own network."""

    def __init__(self, *, allow_http: bool = False, allow_private: bool = False, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None, user_agent: str = "healthgate-webhooks/1"):
        self.allow_http = allow_http
        self.allow_private = allow_private
        self.timeout = timeout
        self.user_agent = user_agent
        self._client = httpx.Client(follow_redirects=False, timeout=httpx.Timeout(timeout), transport=transport,
                                    trust_env=False)

    def send(self, url: str, secret: str, *, event_id: str, event: str, body: bytes, timestamp: int) -> None:
        problem = check_webhook_url(url, allow_http=self.allow_http)
        if problem is not None:
            raise PermanentFailure(f"the webhook URL {problem}")
        host = urlsplit(url).hostname or ""
        if not self.allow_private and (private := private_address(host)) is not None:
            raise PermanentFailure(f"the webhook URL's host {host} is not on the public internet ({private})")
        headers = {"Content-Type": "application/json", "User-Agent": self.user_agent,
                   SIGNATURE_HEADER: sign(secret, timestamp, body), TIMESTAMP_HEADER: str(timestamp),
                   EVENT_ID_HEADER: event_id, EVENT_HEADER: event}
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientFailure(f"no answer from {_origin(url)} within {self.timeout:g} s ({type(exc).__name__})") \
                from None
        except httpx.HTTPError as exc:
            raise TransientFailure(f"cannot reach {_origin(url)}: {type(exc).__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            where = response.headers.get("location", "")
            raise PermanentFailure(f"the receiver answered {status} (a redirect{f' to {where[:200]}' if where else ''});"
                                   " redirects are never followed: register the final URL")
        reply = f"the receiver answered {status} {response.reason_phrase}".strip()
        if status in (408, 425, 429) or status >= 500:
            raise TransientFailure(reply)
        raise PermanentFailure(reply)

    def close(self) -> None:
        self._client.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def webhook_sender_from_settings(settings: Settings) -> WebhookSender:
    """Allowing plain http (development, tests) also allows receivers on this machine or a private network."""
    return WebhookSender(allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_http,
                         timeout=settings.webhook_timeout_seconds)
