"""The SMTP sender against a real SMTP server on 127.0.0.1 (aiosmtpd), and the console sender."""

from __future__ import annotations

import io
import shutil
import ssl
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import transaction
from healthgate.identity.permissions import SYSTEM
from healthgate.outbox import service
from healthgate.outbox.models import OutboxMessage
from healthgate.outbox.senders import (
    ConsoleSender,
    Email,
    PermanentFailure,
    SmtpSender,
    TransientFailure,
    sender_from_settings,
)
from healthgate.outbox.worker import Worker
from tests.outbox.harness import SmtpSink, free_port

FROM = "Healthgate <noreply@healthgate.test>"
AT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def mail(outbox_id: int = 7, to: str = "ada@example.org", **kw) -> Email:
    return Email(outbox_id, (to,), kw.pop("subject", "Verify your email"), kw.pop("body", "Follow the link.\n"),
                 AT, **kw)


def smtp(sink: SmtpSink, **kw) -> SmtpSender:
    return SmtpSender("127.0.0.1", sink.port, FROM, **{"starttls": False, "timeout": 10, **kw})


def test_smtp_delivers_a_well_formed_message():
    with SmtpSink() as sink:
        sender = smtp(sink)
        sender.send(mail(html="<p>Follow the link.</p>", reply_to="help@healthgate.test"))
        sender.close()
    [got] = sink.received
    assert got.mail_from == "noreply@healthgate.test" and got.rcpt_tos == ["ada@example.org"]
    msg = got.message
    assert (msg["From"], msg["To"], msg["Subject"], msg["Reply-To"]) == \
        (FROM, "ada@example.org", "Verify your email", "help@healthgate.test")
    assert msg["Message-ID"] == f"<outbox.7.{int(AT.timestamp())}@healthgate.test>"  # a redelivery shows as one
    assert msg["X-Healthgate-Outbox-Id"] == "7" and msg["Date"] == "Thu, 15 Jan 2026 09:30:00 +0000"
    parts = {p.get_content_type(): p.get_content().replace("\r\n", "\n") for p in msg.walk() if not p.is_multipart()}
    assert parts == {"text/plain": "Follow the link.\n", "text/html": "<p>Follow the link.</p>\n"}


def test_smtp_keeps_one_connection_for_a_batch_and_reconnects_when_it_went_stale():
    port = free_port()
    with SmtpSink(port=port) as sink:
        sender = smtp(sink)
        sender.send(mail(1))
        first = sender._conn
        sender.send(mail(2))
        assert sender._conn is first  # reused
    with SmtpSink(port=port) as restarted:  # the server went away and came back: the kept connection is dead
        sender.send(mail(3))
        sender.close()
    assert [int(r.message["X-Healthgate-Outbox-Id"]) for r in sink.received + restarted.received] == [1, 2, 3]


def test_smtp_logs_in_and_a_refused_login_is_retried_later():
    with SmtpSink(users={"healthgate": "s3cret"}) as sink:
        smtp(sink, username="healthgate", password="s3cret").send(mail())
        with pytest.raises(TransientFailure) as refused:
            smtp(sink, username="healthgate", password="wrong").send(mail(8))
    assert sink.outbox_ids() == [7]
    assert "refused the login" in str(refused.value) and "wrong" not in str(refused.value)


def test_smtp_refusals_are_permanent_for_5xx_and_transient_for_4xx():
    with SmtpSink() as sink:
        sink.refuse = {"nobody@": "550 5.1.1 no such user", "busy@": "451 4.2.1 mailbox busy"}
        with pytest.raises(PermanentFailure, match="550 5.1.1 no such user"):
            smtp(sink).send(mail(to="nobody@example.org"))
        with pytest.raises(TransientFailure, match="451 4.2.1 mailbox busy"):
            smtp(sink).send(mail(to="busy@example.org"))
        sink.fail_data = 1
        with pytest.raises(TransientFailure, match="451 4.3.0"):
            smtp(sink).send(mail())
        smtp(sink).send(mail())  # the next one goes through
    assert sink.outbox_ids() == [7]


def test_smtp_server_that_is_not_there_is_a_transient_failure():
    with pytest.raises(TransientFailure, match="cannot deliver through 127.0.0.1"):
        SmtpSender("127.0.0.1", free_port(), FROM, starttls=False, timeout=5).send(mail())


def test_a_header_that_cannot_be_sent_is_permanent():
    with pytest.raises(PermanentFailure, match="Subject header"):
        mail(subject="Hi\r\nBcc: everyone@example.org").to_message(FROM)
    with pytest.raises(PermanentFailure, match="To address"):
        mail(to="not an address").to_message(FROM)


@pytest.fixture
def tls_files(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate for the STARTTLS test")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


def test_smtp_starttls_verifies_the_server_certificate(tls_files):
    key, cert = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with SmtpSink(tls_context=server_tls) as sink:
        trusting = ssl.create_default_context(cafile=str(cert))
        smtp(sink, starttls=True, tls_context=trusting).send(mail())
        with pytest.raises(TransientFailure, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            smtp(sink, starttls=True).send(mail(8))  # the system's trust store does not know this certificate
    assert sink.outbox_ids() == [7]


def test_console_sender_prints_the_whole_email():
    out = io.StringIO()
    ConsoleSender(FROM, out).send(mail(body="Your link: https://example.org/verify/abc\n"))
    text = out.getvalue()
    assert text.startswith("----- email (outbox 7) -----\n")
    assert "To: ada@example.org" in text and "Subject: Verify your email" in text
    assert "Your link: https://example.org/verify/abc" in text


def test_settings_choose_the_sender(tmp_path):
    assert isinstance(sender_from_settings(Settings(data_dir=tmp_path)), ConsoleSender)
    sender = sender_from_settings(Settings(data_dir=tmp_path, smtp_host="mail.example.org", smtp_port=2525,
                                           smtp_username="u", smtp_password="p", smtp_starttls=False,
                                           email_from="x@example.org"))
    assert isinstance(sender, SmtpSender)
    assert (sender.host, sender.port, sender.username, sender.password, sender.starttls, sender.sender) == \
        ("mail.example.org", 2525, "u", "p", False, "x@example.org")
    assert "p" not in repr(Settings(data_dir=tmp_path, smtp_password="p").smtp_password)


def test_worker_delivers_queued_email_over_smtp_and_keeps_the_servers_refusal(db, clock):
    with transaction(db.sessions) as session:
        ctx = Context(session, SYSTEM, clock)
        ok = service.enqueue_email(ctx, "ada@example.org", "Welcome", "Hello Ada.")
        bad = service.enqueue_email(ctx, "nobody@example.org", "Welcome", "Hello?")
        session.flush()
        ok_id, bad_id = ok.id, bad.id
    with SmtpSink() as sink:
        sink.refuse = {"nobody@": "550 5.1.1 no such user"}
        tally = Worker(db.sessions, smtp(sink), clock=clock).drain()
    assert (tally.sent, tally.dead) == (1, 1)
    assert sink.outbox_ids() == [ok_id] and sink.received[0].message.get_content().strip() == "Hello Ada."
    with db.sessions() as session:
        found = {r.id: r for r in session.scalars(select(OutboxMessage))}
    assert found[ok_id].status == "sent" and found[bad_id].status == "dead"
    assert "550 5.1.1 no such user" in found[bad_id].last_error
