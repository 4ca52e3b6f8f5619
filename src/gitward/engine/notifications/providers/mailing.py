"""``email``: one message per notification over SMTP, always with STARTTLS.

A server that does not offer STARTTLS is refused rather than written to in
clear: the message names applications and commits, and a login would cross
the network in clear. ``smtplib`` runs in a thread (it blocks); the address is
checked against link-local and metadata ranges first.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from gitward import errors
from gitward.engine.notifications import addresses, messages, references
from gitward.engine.notifications.providers import base


async def send(outgoing: base.Outgoing) -> None:
    settings = outgoing.settings
    host, _, port_text = settings.address.rpartition(":")
    port = int(port_text)
    await addresses.check_host(
        host, port, outgoing.what, allow_link_local=settings.allow_link_local
    )
    password = references.read(settings.password_env, settings.password_file, outgoing.what)
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.to)
    mail["Subject"] = "[gitward] " + messages.render("", outgoing.document, "title")
    mail["X-Gitward-Event"] = str(outgoing.document.get("event", {}).get("reason", ""))
    mail.set_content(messages.render(outgoing.template, outgoing.document) + "\n")
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    await asyncio.to_thread(
        _deliver,
        outgoing.what,
        host,
        port,
        settings.timeout,
        context,
        settings.username,
        password,
        mail,
    )


def _deliver(
    what: str,
    host: str,
    port: int,
    timeout: float,
    context: ssl.SSLContext,
    username: str,
    password: str,
    mail: EmailMessage,
) -> None:
    where = f"{what} at {host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise errors.NotificationRejected(
                    f"{where}: the server does not offer STARTTLS; gitward does not send "
                    "mail in clear"
                )
            smtp.starttls(context=context)
            smtp.ehlo()
            if username:
                smtp.login(username, password)
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise errors.NotificationRejected(f"{where}: login refused ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise errors.NotificationRejected(
            f"{where}: recipients refused: {', '.join(sorted(exc.recipients))}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        message = f"{where}: SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            raise errors.NotificationUnavailable(message) from None
        raise errors.NotificationRejected(message) from None
    except ssl.SSLError as exc:
        raise errors.NotificationRejected(f"{where}: TLS failed: {exc.reason}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise errors.NotificationUnavailable(f"{where}: {type(exc).__name__}: {exc}") from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
