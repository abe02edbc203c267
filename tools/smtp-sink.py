#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd), storing what it receives.

    python3 tools/smtp-sink.py PORT FILE

Listens on 127.0.0.1:PORT (plain SMTP, no STARTTLS, no login), and appends each message it
accepts to FILE as one JSON line, flushed before the server answers 250:

    {"mail_from": "...", "rcpt_tos": ["...", ...], "subject": "...", "body": "..."}

with the subject's RFC 2047 encoded words and the body's transfer encoding decoded (Python's
`email` package, policy=email.policy.default) and the body's CRLF line ends as "\\n", so tests
compare Chinese text as written. Prints "ready" on standard output once it listens; stops on
SIGTERM or SIGINT. Needs aiosmtpd (tests/smtp-requirements.txt).
"""

import email
import email.policy
import json
import signal
import sys
import threading

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print(
        "smtp-sink: the Python package aiosmtpd is missing; "
        "install it with: python3 -m pip install -r tests/smtp-requirements.txt",
        file=sys.stderr,
    )
    sys.exit(3)


class Sink:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(message.get("subject", "")),
            "body": body.replace("\r\n", "\n"),
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
        return "250 Message accepted for delivery"


def main():
    if len(sys.argv) != 3:
        print("usage: smtp-sink.py PORT FILE", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    path = sys.argv[2]
    # The file exists (empty) once the sink is ready.
    open(path, "a", encoding="utf-8").close()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = Controller(Sink(path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        print("ready", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
