"""`smtp`: any SMTP server or relay: STARTTLS or implicit TLS, AUTH, reused connections, and a
pool of N connections sending at once.

Each pool thread keeps its own connection open from one message to the next (a new connection
costs a TCP and a TLS handshake and an AUTH). The message is sent as built: CRLF lines, dots
stuffed (`OutgoingEmail.smtp_data`: by the message frame, from literals stuffed once per digest
variant, or with one bytes.replace) instead of by smtplib's regular expressions. A server that
does not announce 8BITMIME (RFC 6152) gets the message re-encoded to 7 bit first.

Replies map to results by their class (RFC 5321): 2xx sent; 4xx failed and transient; 5xx
rejected, never retried, unless the reply is about our own setup rather than the recipient (a
refused MAIL FROM, authentication required or refused, relaying denied): those fail, transient,
so that the rows wait for the operator's fix and the run pauses after a few. A connection lost
after the final dot, before the server answered, leaves the outcome unknown: the server may
have taken the message. A pooled connection the server closed while idle is reopened once, at
once, when it fails before MAIL FROM was accepted (nothing of the message was taken).

In `send_each` a connection sends a message's envelope and content while the previous answer is
being recorded, and only the final dot (the moment the server takes the message) waits for it.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from digest.delivery.email.base import (
    RECORDED,
    Answered,
    EmailAdapter,
    NotRecorded,
    Recorded,
    Take,
)
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import END_OF_DATA, OutgoingEmail, smtp_data
from digest.settings import Secret, SectionProblems, Settings

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, slots=True)
class SmtpOptions:
    host: str = "localhost"
    port: int | None = None  # default: 465 for tls, 587 for starttls, 25 for none
    security: Security = "starttls"
    username: str | None = None
    password: Secret | None = None
    connections: int = 4  # the pool: how many messages are sent at once
    timeout: float = 30.0
    verify: bool = True  # check the server's certificate (never turn off in production)
    ca_file: str | None = None  # a CA bundle to trust instead of the system's
    messages_per_connection: int = 0  # reconnect after this many (0: never); some relays cap it

    def check(self) -> None:
        problems = []
        if not 1 <= self.connections <= 64:
            problems.append(("connections", "must be from 1 to 64"))
        if (self.username is None) != (self.password is None):
            problems.append(("password", "give both username and password, or neither"))
        if self.password is not None and self.security == "none":
            problems.append(("security", "AUTH over a plain connection would send the password"))
        if problems:
            raise SectionProblems(*problems)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"tls": 465, "starttls": 587, "none": 25}[self.security]


class _Reply(Exception):
    """An SMTP reply that ends this message's transaction."""

    def __init__(self, stage: str, code: int, text: bytes) -> None:
        self.stage, self.code, self.text = stage, code, text
        super().__init__(f"{stage}: {code} {text.decode('utf-8', 'replace')}")


class _Connection:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp
        self.sent = 0
        self.mail_accepted = False  # in the current transaction: the server took MAIL FROM
        self.eight_bit = smtp.has_extn("8bitmime")
        self.pipelining = smtp.has_extn("pipelining")


class SmtpEmailAdapter(EmailAdapter):
    type_name = "smtp"
    Options = SmtpOptions

    def __init__(self, options: Any, settings: Settings) -> None:
        super().__init__(options, settings)
        self.concurrency = options.connections  # type: ignore[misc]
        self._local = threading.local()
        self._open: list[_Connection] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._tls = self._tls_context()

    def secrets(self) -> Iterable[str]:
        return (self.options.password.reveal(),) if self.options.password else ()

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.options.ca_file)
        if not self.options.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    # Sending -------------------------------------------------------------------------------

    def send_many(self, messages: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
        if self.options.connections == 1 or len(messages) == 1:
            return [self.send_guarded(message) for message in messages]
        return list(self._threads().map(self.send_guarded, messages))

    def send_each(self, take: Take, answered: Answered) -> None:
        if self.options.connections == 1:
            self.send_in_turn(take, answered)
            return
        pool = self._threads()
        turns = [pool.submit(self.send_in_turn, take, answered) for _ in range(self.concurrency)]
        for turn in turns:
            turn.result()

    def _threads(self) -> ThreadPoolExecutor:
        # Kept from one call to the next: each thread keeps its connection open.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.options.connections, thread_name_prefix="smtp"
            )
        return self._pool

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        return self._send(message, reopen=True, previous=RECORDED)

    def send_after(self, message: OutgoingEmail, previous: Recorded) -> DeliveryResult:
        return self._send(message, reopen=True, previous=previous)

    def _send(self, message: OutgoingEmail, *, reopen: bool, previous: Recorded) -> DeliveryResult:
        reused = getattr(self._local, "connection", None) is not None
        try:
            connection = self._connection()
        except smtplib.SMTPAuthenticationError as error:
            self._drop()
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=self.masked(
                    f"AUTH refused: {error.smtp_code} {_text(error.smtp_error)}; "
                    "check email.options.username and password"
                ),
                transient=True,
            )
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=self.masked(f"cannot connect to {self._where()}: {error}"),
                transient=True,
            )
        try:
            result = self._transaction(connection, message, previous)
        except NotRecorded:
            self._drop()  # the server drops a message whose final dot never came
            raise
        except _Reply as reply:
            self._reset(connection)
            return self._reply_result(reply)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            # Lost before the final dot went out: the server cannot have taken the message.
            self._drop()
            if reopen and reused and not connection.mail_accepted:
                # A pooled connection the server closed while it sat idle: a new one sends the
                # message now, no retry delay, no failure counted against the run.
                return self._send(message, reopen=False, previous=previous)
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=self.masked(f"connection to {self._where()} lost: {error}"),
                transient=True,
            )
        connection.sent += 1
        limit = self.options.messages_per_connection
        if limit and connection.sent >= limit:
            self._drop(quit=True)
        return result

    def _transaction(
        self, connection: _Connection, message: OutgoingEmail, previous: Recorded
    ) -> DeliveryResult:
        for address in (message.sender, message.recipient):
            if _UNSAFE_IN_COMMAND.search(address):
                # The commands are written raw (pipelined): nothing may bend them.
                return DeliveryResult(
                    DeliveryStatus.REJECTED,
                    response=f"address {address!r} cannot go in an SMTP command",
                )
        smtp = connection.smtp
        connection.mail_accepted = False
        options: list[str] = []
        seven_bit = False
        if not message.data.isascii():
            if connection.eight_bit:
                options.append("BODY=8BITMIME")
            else:
                seven_bit = True  # re-encoded (and re-signed, if it was signed) below
        if connection.pipelining:
            # RFC 2920: MAIL, RCPT and DATA in one write, then their three replies: one round
            # trip instead of three. A refused MAIL or RCPT makes the server refuse DATA too.
            mail = f"MAIL FROM:<{message.sender}>{''.join(' ' + o for o in options)}\r\n"
            smtp.send(f"{mail}RCPT TO:<{message.recipient}>\r\nDATA\r\n".encode())
            replies: list[tuple[int, bytes]] = []
            for _ in range(3):
                replies.append(smtp.getreply())
                connection.mail_accepted = replies[0][0] == 250
            for stage, (code, text), accepted in zip(
                ("MAIL FROM", "RCPT TO", "DATA"), replies, ((250,), (250, 251), (354,)), strict=True
            ):
                if code not in accepted:
                    if replies[2][0] == 354:
                        # A server that took DATA after all: drop the connection rather than
                        # send it anything.
                        self._drop()
                    raise _Reply(stage, code, text)
        else:
            code, text = smtp.mail(message.sender, options)
            if code != 250:
                raise _Reply("MAIL FROM", code, text)
            connection.mail_accepted = True
            code, text = smtp.rcpt(message.recipient)
            if code not in (250, 251):
                raise _Reply("RCPT TO", code, text)
            code, text = smtp.docmd("DATA")
            if code != 354:
                raise _Reply("DATA", code, text)
        content = smtp_data(message.seven_bit()) if seven_bit else message.smtp_data()
        if previous.is_set():
            previous.wait()  # raises if it was lost
            smtp.send(content)
        else:
            # All but the final dot, without copying the message to cut it off.
            smtp.send(memoryview(content)[: -len(END_OF_DATA)])
            previous.wait()
            smtp.send(END_OF_DATA)
        try:
            code, text = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            return DeliveryResult(
                DeliveryStatus.UNKNOWN,
                response=self.masked(f"no answer after the message was sent: {error}"),
            )
        if code != 250:
            raise _Reply("end of DATA", code, text)
        return DeliveryResult(
            DeliveryStatus.SENT, provider_id=_queue_id(text), response=_text(text)
        )

    def _reply_result(self, reply: _Reply) -> DeliveryResult:
        answer = self.masked(f"{reply.stage}: {reply.code} {_text(reply.text)}")
        if 400 <= reply.code < 500 or reply.code < 200:
            return DeliveryResult(DeliveryStatus.FAILED, response=answer, transient=True)
        if _about_our_setup(reply):
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"{answer}; the server refuses our setup, not this recipient: check "
                "site.from_address and email.options (username, password, host)",
                transient=True,
            )
        return DeliveryResult(DeliveryStatus.REJECTED, response=answer)

    # Connections ---------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.options.host}:{self.options.effective_port}"

    def _connection(self) -> _Connection:
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        options = self.options
        smtp: smtplib.SMTP
        if options.security == "tls":
            smtp = smtplib.SMTP_SSL(
                options.host, options.effective_port, timeout=options.timeout, context=self._tls
            )
        else:
            smtp = smtplib.SMTP(options.host, options.effective_port, timeout=options.timeout)
        try:
            smtp.ehlo()
            if options.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        f"{self._where()} does not offer STARTTLS; set email.options.security"
                    )
                smtp.starttls(context=self._tls)
                smtp.ehlo()
            if options.username is not None and options.password is not None:
                smtp.login(options.username, options.password.reveal())
        except BaseException:
            smtp.close()
            raise
        # The final dot goes out alone once the previous answer is recorded: Nagle's algorithm
        # would hold it back until the server acknowledged the content.
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(smtp)
        self._local.connection = connection
        with self._lock:
            self._open.append(connection)
        return connection

    def _reset(self, connection: _Connection) -> None:
        try:
            connection.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self, *, quit: bool = False) -> None:
        connection: _Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is None:
            return
        with self._lock:
            if connection in self._open:
                self._open.remove(connection)
        _close(connection, quit=quit)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            _close(connection, quit=True)
        self._local = threading.local()


def _close(connection: _Connection, *, quit: bool) -> None:
    try:
        if quit:
            connection.smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        connection.smtp.close()


_UNSAFE_IN_COMMAND = re.compile(r"[\s<>]")
_AUTH_CODES = {530, 534, 535, 538}  # RFC 4954: authentication required, too weak, failed, …
_RELAY_DENIED = re.compile(rb"relay", re.IGNORECASE)


def _about_our_setup(reply: _Reply) -> bool:
    """A 5xx about the sender, its authentication or relaying: every message would get it."""
    if reply.stage == "MAIL FROM" or reply.code in _AUTH_CODES:
        return True
    return reply.stage == "RCPT TO" and _RELAY_DENIED.search(reply.text) is not None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _queue_id(reply: bytes) -> str | None:
    """The id a server reports ("2.0.0 Ok: queued as 4Bz…"), if it reports one."""
    text = _text(reply)
    marker = "queued as "
    if marker in text:
        return text.split(marker, 1)[1].split()[0]
    return text or None
