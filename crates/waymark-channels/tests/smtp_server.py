"""A real SMTP server for the email tests (aiosmtpd, from PyPI).

    python3 smtp_server.py PORT MAILDIR [USER PASSWORD]

Saves each accepted message as MAILDIR/<n>.eml (with its envelope in
MAILDIR/<n>.json). Recipients starting with `bounce` are refused with 550,
`busy` with 451. With USER and PASSWORD, AUTH (PLAIN/LOGIN) is required.
Prints `ready` once listening; stops when stdin closes.
"""

import json
import os
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 no such user here"
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.maildir, str(self.count))
        with open(base + ".json", "w") as f:
            json.dump(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "auth": session.authenticated,
                },
                f,
            )
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 queued as m%d" % self.count


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == user and auth_data.password.decode() == password
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    os.makedirs(maildir, exist_ok=True)
    kwargs = {}
    if len(sys.argv) > 4:
        kwargs = dict(
            authenticator=authenticator(sys.argv[3], sys.argv[4]),
            auth_required=True,
            auth_require_tls=False,
        )
    controller = Controller(Handler(maildir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
