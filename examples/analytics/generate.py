#!/usr/bin/env python3
"""Writes examples/analytics/win-back.jsonl: 1,200 members cancel over four
weeks of August 2026; some open the win-back email, some come back within
60 days. Deterministic (seeded), so the charts in docs/ can be redrawn:

    python3 examples/analytics/generate.py > examples/analytics/win-back.jsonl
"""
import json
import random
from datetime import datetime, timedelta, timezone

rng = random.Random(19)
start = datetime(2026, 8, 1, 9, 0, tzinfo=timezone.utc)
lines = []


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


for i in range(1200):
    user = f"member-{i:04d}"
    cancelled = start + timedelta(minutes=rng.randrange(28 * 24 * 60))
    traits = {"email": f"{user}@example.com"}
    if rng.random() < 0.4:
        traits["phone"] = f"+4915{i:09d}"
    lines.append((cancelled - timedelta(days=90), {"type": "identify", "messageId": f"i-{user}", "userId": user, "traits": traits}))
    reason = "fraud" if rng.random() < 0.03 else rng.choice(["price", "features", "moved"])
    lines.append((cancelled, {"type": "track", "messageId": f"c-{user}", "userId": user, "event": "Subscription Cancelled", "properties": {"reason": reason}}))
    offer = cancelled + timedelta(days=30)
    if rng.random() < 0.35:
        lines.append((offer + timedelta(hours=rng.randrange(1, 6 * 24)), {"type": "track", "messageId": f"o-{user}", "userId": user, "event": "Email Opened"}))
    if rng.random() < 0.12:
        back = offer + timedelta(hours=rng.randrange(2, 25 * 24))
        mrr = rng.choice([19.0, 29.0, 49.0])
        lines.append((back, {"type": "track", "messageId": f"s-{user}", "userId": user, "event": "Subscription Started", "properties": {"mrr": mrr}}))

for at, event in sorted(lines, key=lambda x: (x[0], x[1]["messageId"])):
    event["timestamp"] = stamp(at)
    print(json.dumps(event, separators=(",", ":")))
