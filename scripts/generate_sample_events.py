"""Write the shipped SAMPLE of SendGrid events and replies that `make run` replays on the demo home.

The demo home never sends (no API key: dry runs), so nothing would ever come back from SendGrid and a newcomer
would see empty campaign metrics. This writes, from the send ledger of a demo run, what SendGrid plausibly
would have posted for those sends: Event Webhook requests (JSON arrays, as SendGrid batches them) and Inbound
Parse replies, seeded, so the same ledger always gives the same files. Every event carries the custom arg
``dripline_sample`` and an ``sg_event_id`` starting with ``sample-``; every reply a ``X-Dripline-Sample``
header: nothing here is real. `dripline run` replays them through the receiver's own spool
(connectors/webhooks/spool.py), so they are collected, deduplicated and credited exactly as real ones.

Usage (after `make run` on the demo home; run it again when the sample data or the campaigns change):

    .venv/bin/python scripts/generate_sample_events.py --ledger .dripline/outreach/ledger.sqlite3
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "sample_data" / "sendgrid"
SEED = 20261116
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
MPP_AGENT = "Mozilla/5.0"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def events_for(send: dict, rng: random.Random, counter: list[int]) -> tuple[list[dict], list[dict]]:
    """SendGrid's events for one send, and the replies (inbound documents) it drew."""
    sent_at = datetime.fromisoformat(send["sent_at"])
    message_id = f"sample{send['send_id'][:14]}"

    def event(name: str, at: datetime, **fields) -> dict:
        counter[0] += 1
        return {
            "email": send["email"],
            "timestamp": int(at.timestamp()),
            "event": name,
            "sg_event_id": f"sample-{counter[0]:06d}-{send['send_id'][:8]}",
            "sg_message_id": f"{message_id}.filterdrecv-sample-{counter[0] % 7}.0",
            "send_id": send["send_id"],
            "campaign": send["campaign"],
            "step": send["step"],
            "customer_id": send["customer_id"],
            "dripline_sample": "true",
            "category": ["dripline", send["campaign"]],
            **fields,
        }

    at = sent_at + timedelta(seconds=rng.randint(2, 20))
    out = [event("processed", at)]
    roll = rng.random()
    if roll < 0.03:
        kind = "bounce" if roll < 0.02 else "blocked"
        out.append(
            event(
                "bounce",
                at + timedelta(seconds=40),
                type=kind,
                status="5.1.1" if kind == "bounce" else "4.7.1",
                reason="550 5.1.1 The email account that you tried to reach does not exist."
                if kind == "bounce"
                else "421 4.7.1 Try again later",
            )
        )
        return out, []
    delivered_at = at + timedelta(seconds=rng.randint(5, 90))
    out.append(event("delivered", delivered_at, response="250 2.0.0 OK"))
    replies = []
    if rng.random() < 0.18:  # Apple Mail Privacy Protection fetches the pixel at delivery
        out.append(
            event(
                "open",
                delivered_at + timedelta(minutes=rng.randint(1, 15)),
                sg_machine_open=True,
                useragent=MPP_AGENT,
            )
        )
    opened = rng.random() < 0.42
    if opened:
        open_at = delivered_at + timedelta(minutes=rng.randint(5, 36 * 60))
        for repeat in range(rng.choice((1, 1, 2, 3))):
            out.append(
                event(
                    "open",
                    open_at + timedelta(minutes=30 * repeat),
                    sg_machine_open=False,
                    useragent=USER_AGENT,
                )
            )
        if rng.random() < 0.3:
            out.append(
                event(
                    "click",
                    open_at + timedelta(minutes=2),
                    url="https://masitneun-catering.example/menu?utm_source=dripline",
                    useragent=USER_AGENT,
                )
            )
        if rng.random() < 0.04:
            out.append(
                event(
                    "click",
                    open_at + timedelta(minutes=3),
                    url="https://u1234.ct.sendgrid.net/asm/unsubscribe/?user_id=1&data=sample",
                    useragent=USER_AGENT,
                )
            )
            out.append(event("group_unsubscribe", open_at + timedelta(minutes=3), asm_group_id=21001))
        if rng.random() < 0.12:
            replies.append(_reply(send, open_at + timedelta(minutes=rng.randint(10, 600)), automatic=False))
    if rng.random() < 0.05:
        replies.append(_reply(send, delivered_at + timedelta(minutes=1), automatic=True))
    if rng.random() < 0.01:
        out.append(event("spamreport", delivered_at + timedelta(hours=5)))
    return out, replies


def _reply(send: dict, at: datetime, automatic: bool) -> dict:
    local, _, domain = send["reply_to"].partition("@")
    to = f"{local}+{send['send_id']}@{domain}"
    headers = [
        f"Message-ID: <sample-{send['send_id']}-{'auto' if automatic else 'reply'}@example.com>",
        f"From: {send['email']}",
        f"To: {to}",
        "X-Dripline-Sample: true",
    ]
    if automatic:
        headers.append("Auto-Submitted: auto-replied")
        subject, text = "자동 회신: 부재중입니다", "11월 20일까지 휴가 중입니다. 복귀 후 연락드리겠습니다."
    else:
        subject, text = (
            "Re: 문의드립니다",
            "안녕하세요, 다음 달 행사 견적을 받고 싶습니다. 인원은 40명입니다.",
        )
    return {
        "received_at": at.astimezone(UTC).isoformat(),
        "fields": {
            "headers": "\n".join(headers) + "\n",
            "from": send["email"],
            "to": to,
            "subject": subject,
            "text": text,
            "envelope": json.dumps({"to": [to], "from": send["email"]}),
            "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8", "text": "UTF-8", "from": "UTF-8"}),
            "attachments": "0",
        },
        "attachments": [],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ledger", type=Path, default=REPO_ROOT / ".dripline" / "outreach" / "ledger.sqlite3"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--campaigns-dir", type=Path, default=REPO_ROOT / "campaigns")
    args = parser.parse_args(argv)

    import yaml

    reply_to = {}
    for path in sorted(args.campaigns_dir.glob("*.yml")):
        definition = yaml.safe_load(path.read_text(encoding="utf-8"))
        reply_to[definition["name"]] = definition.get("reply_to") or "replies@reply.example"
    with sqlite3.connect(args.ledger) as connection:
        connection.row_factory = sqlite3.Row
        sends = [
            {**dict(row), "reply_to": reply_to.get(row["campaign"], "replies@reply.example")}
            for row in connection.execute(
                "select send_id, campaign, step, customer_id, email, sent_at from sends "
                "where status in ('dry_run', 'sent') and email is not null order by send_id"
            )
        ]
    rng = random.Random(SEED)
    counter = [0]
    events, replies = [], []
    for send in sends:
        send_events, send_replies = events_for(send, rng, counter)
        events += send_events
        replies += send_replies
    # SendGrid posts every 30 s or 768 KB: one request per half hour of events here, and one event delivered
    # twice (at-least-once delivery) in every request but the first.
    events.sort(key=lambda e: (e["timestamp"], e["sg_event_id"]))
    for directory in (args.out / "events", args.out / "inbound"):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.json"):
            old.unlink()
    batches: dict[int, list[dict]] = {}
    for item in events:
        batches.setdefault(item["timestamp"] // 1800, []).append(item)
    previous = None
    for window, batch in sorted(batches.items()):
        if previous is not None:
            batch = [*batch, previous]
        received = datetime.fromtimestamp(window * 1800 + 1800, UTC)
        (args.out / "events" / f"{_stamp(received)}.json").write_text(
            json.dumps(batch, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        previous = batch[0]
    for reply in replies:
        received = datetime.fromisoformat(reply["received_at"])
        name = f"{_stamp(received)}-{reply['fields']['to'].split('+')[1].split('@')[0][:12]}.json"
        (args.out / "inbound" / name).write_text(
            json.dumps(reply, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    print(
        f"{len(sends)} sends: {len(events)} events in {len(batches)} requests, {len(replies)} replies "
        f"({sum(1 for r in replies if 'Auto-Submitted' in r['fields']['headers'])} automatic) -> {args.out}"
    )


if __name__ == "__main__":
    main()
