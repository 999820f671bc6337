#!/usr/bin/env python3
"""Sends events to a Waymark front door with the official Python SDKs,
unchanged and with their default settings (rudder-sdk-python gzips):

    python3 scripts/sdk_client.py segment|rudder HOST WRITE_KEY USER

Identifies USER with an email, then tracks `Signed Up`; then sends an
event with a write key the server refuses and checks the SDK read the
refusal (its status and code). Exits 1 on any surprise.
"""
import sys

which, host, write_key, user = sys.argv[1:5]
errors = []


def on_error(error, items):
    errors.append(error)


if which == "segment":
    from segment.analytics import Client
else:
    from rudderstack.analytics import Client

# sync_mode: each call is one request, answered before the next.
client = Client(write_key, host=host, on_error=on_error, sync_mode=True, max_retries=1)
client.identify(user, {"email": f"{user}@example.com"})
client.track(user, "Signed Up", {"plan": "trial"})
client.flush()
if errors:
    print(f"{which}: accepted events were refused: {errors}", file=sys.stderr)
    sys.exit(1)

stranger = Client("not-a-key", host=host, on_error=on_error, sync_mode=True, max_retries=1)
try:
    stranger.track(user, "Signed Up")
    stranger.flush()
except Exception as raised:  # in sync mode, Segment's SDK raises it
    errors.append(raised)
if len(errors) != 1:
    print(f"{which}: expected one refusal, got {errors}", file=sys.stderr)
    sys.exit(1)
error = errors[0]
status, code = getattr(error, "status", None), getattr(error, "code", None)
if status != 401 or code != "unauthorized":
    print(f"{which}: refusal read as {status!r} {code!r}: {error}", file=sys.stderr)
    sys.exit(1)
print(f"{which}: ok")
