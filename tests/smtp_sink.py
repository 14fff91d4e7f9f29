"""A real SMTP server for tests: aiosmtpd on loopback, recording what it accepts.

It can offer STARTTLS or implicit TLS with a self-signed certificate made here, require AUTH,
and answer chosen recipients with chosen reply codes, so the adapter meets real SMTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Received:
    peer: tuple[str, int]  # the client's address and port: one per connection
    sender: str
    recipients: tuple[str, ...]
    data: bytes
    login: str | None


@dataclass
class Recorder:
    """The handler: records accepted messages; `replies` maps a recipient to an SMTP reply."""

    replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None  # answer every DATA with this instead of 250
    mail_reply: str | None = None  # answer every MAIL FROM with this instead of 250
    delay: float = 0.0  # seconds each message takes to accept, like a slow relay
    pipelining: bool = False  # announce PIPELINING (RFC 2920); aiosmtpd reads commands in order
    # Take these recipients' messages, then drop the connection instead of answering the final
    # dot: the client cannot know that the message arrived.
    vanish: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        login = session.auth_data.login.decode() if session.auth_data else None
        with self.lock:
            number = len(self.received)
            self.received.append(
                Received(
                    peer=tuple(session.peer),  # type: ignore[arg-type]
                    sender=str(envelope.mail_from),
                    recipients=tuple(envelope.rcpt_tos),
                    data=content,
                    login=login,
                )
            )
        if self.vanish.intersection(envelope.rcpt_tos):
            server.transport.abort()
        return f"250 2.0.0 Ok: queued as Q{number:06d}"


# TLS checks a certificate against the process clock: the sink's is valid on any day tests run.
CERTIFICATE_VALID_FROM = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
CERTIFICATE_VALID_UNTIL = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(CERTIFICATE_VALID_FROM)
        .not_valid_after(CERTIFICATE_VALID_UNTIL)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder
    certificate: Path | None


@contextmanager
def smtp_server(
    *,
    tls: str = "none",  # none | starttls | implicit
    certificate: tuple[Path, Path] | None = None,
    users: dict[str, str] | None = None,
    decode_data: bool = False,
    recorder: Recorder | None = None,
    port: int | None = None,
) -> Iterator[SmtpServer]:
    recorder = recorder or Recorder()
    kwargs: dict[str, Any] = {"decode_data": decode_data}
    context = None
    if tls != "none":
        assert certificate is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
    if tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if users is not None:

        def authenticate(
            server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and users.get(data.login.decode()) == (
                data.password.decode()
            )
            return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

        kwargs.update(authenticator=authenticate, auth_required=True)
        if tls == "implicit":
            # aiosmtpd knows of TLS only after STARTTLS; this connection is TLS from the start.
            kwargs["auth_require_tls"] = False
    with warnings.catch_warnings():
        # aiosmtpd warns about AUTH without STARTTLS; implicit TLS is TLS all the same.
        warnings.simplefilter("ignore", UserWarning)
        controller = Controller(
            recorder,
            hostname="127.0.0.1",
            port=port or free_port(),
            ssl_context=context if tls == "implicit" else None,
            **kwargs,
        )
    controller.start()
    try:
        yield SmtpServer(
            "127.0.0.1", controller.port, recorder, certificate[0] if certificate else None
        )
    finally:
        controller.stop()
