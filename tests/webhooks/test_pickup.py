"""The pickup: spool files, written by the replay helpers the receiver itself uses, into landing batches."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from connectors.webhooks import (
    InboundAttachment,
    collect_webhook_requests,
    store_event_request,
    store_inbound_request,
)
from connectors.webhooks.pickup import EVENT_SCHEMA, REPLY_SCHEMA, events_zone, replies_zone
from connectors.webhooks.spool import durable_write, remove_stale_temporaries, spool_dir

RECEIVED = datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC)

# A batch as SendGrid posts it, written with SendGrid's own spacing; one event delivered twice.
BATCH = """[
  {"email":"kim@example.com","timestamp":1765155600,"event":"processed","sg_event_id":"cHJvY2Vzc2Vk-1",
   "sg_message_id":"m1.filter0001","category":"welcome","send_id":"0123456789abcdef01234567",
   "campaign":"welcome","step":"day-0","customer_id":"c0000001","asm_group_id":42},
  {"email":"kim@example.com","timestamp":1765155660,"event":"open","sg_event_id":"b3Blbg-2",
   "sg_message_id":"m1.filter0001","useragent":"Mozilla/5.0","sg_machine_open":true,
   "category":["welcome","drip"],"send_id":"0123456789abcdef01234567"},
  {"email":"lee@example.com","timestamp":1765155700,"event":"bounce","sg_event_id":"Ym91bmNl-3",
   "type":"bounce","reason":"550 5.1.1 user unknown","status":"5.1.1","send_id":"fedcba9876543210fedcba98"},
  {"email":"kim@example.com","timestamp":1765155720,"event":"click","sg_event_id":"Y2xpY2s-4",
   "url":"https://example.com/spring?utm=1","sg_message_id":"m1.filter0001","useragent":"Mozilla/5.0"},
  {"email":"kim@example.com","timestamp":1765155720,"event":"click","sg_event_id":"Y2xpY2s-4",
   "url":"https://example.com/spring?utm=1","sg_message_id":"m1.filter0001","useragent":"Mozilla/5.0"}
]"""


def landed(zone) -> list[dict]:
    return sorted(
        (row for b in zone.batch_ids() for row in pq.read_table(zone.batch_path(b)).to_pylist()),
        key=lambda r: (r["_request"], r.get("_position") or 0),
    )


def test_a_replayed_event_request_lands_where_the_contract_says_with_the_receive_time_in_its_name(tmp_path):
    path = store_event_request(tmp_path, BATCH.encode(), received_at=RECEIVED)
    assert path.parent == tmp_path / "sendgrid" / "webhook_requests" / "events"
    assert path.name.startswith("20261208T010203.456789Z-") and path.suffix == ".json"
    assert path.read_bytes() == BATCH.encode()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_every_element_lands_as_a_row_with_sendgrid_fields_typed_and_the_record_exact(tmp_path):
    path = store_event_request(tmp_path, BATCH.encode(), received_at=RECEIVED)
    report = collect_webhook_requests(tmp_path)
    assert (report.event_requests, report.events, report.unparseable) == (1, 5, 0)
    zone = events_zone(tmp_path)
    assert pq.read_schema(zone.batch_path(path.stem)).equals(EVENT_SCHEMA, check_metadata=False)
    rows = landed(zone)
    assert [r["_position"] for r in rows] == [0, 1, 2, 3, 4]
    assert {r["_request"] for r in rows} == {path.name} and {r["_load_id"] for r in rows} == {path.stem}
    assert {r["received_at"] for r in rows} == {RECEIVED}
    processed, opened, bounced, click, duplicate = rows
    assert processed["event_at"] == datetime(2025, 12, 8, 1, 0, tzinfo=UTC)
    assert (processed["send_id"], processed["campaign"], processed["step"], processed["customer_id"]) == (
        "0123456789abcdef01234567",
        "welcome",
        "day-0",
        "c0000001",
    )
    assert processed["asm_group_id"] == 42 and processed["category"] == "welcome"
    assert opened["sg_machine_open"] is True and opened["category"] == '["welcome", "drip"]'
    assert (bounced["type"], bounced["reason"], bounced["status"]) == (
        "bounce",
        "550 5.1.1 user unknown",
        "5.1.1",
    )
    assert click["url"] == "https://example.com/spring?utm=1" and click["sg_event_id"] == "Y2xpY2s-4"
    assert duplicate["sg_event_id"] == click["sg_event_id"]  # kept: dbt deduplicates
    start = BATCH.index('{"email":"lee')
    assert bounced["record"] == BATCH[start : BATCH.index("}", start) + 1]  # spacing and line break kept
    assert json.loads(opened["record"]) == json.loads(BATCH)[1]


def test_collecting_again_lands_nothing_twice_and_a_new_request_alone(tmp_path):
    store_event_request(tmp_path, BATCH.encode(), received_at=RECEIVED)
    store_inbound_request(tmp_path, {"from": "a@example.com", "to": "news@reply.example.com"}, (), RECEIVED)
    first = collect_webhook_requests(tmp_path)
    assert (first.event_requests, first.inbound_requests, first.already_collected) == (1, 1, 0)
    again = collect_webhook_requests(tmp_path)
    assert (again.event_requests, again.events, again.inbound_requests, again.already_collected) == (
        0,
        0,
        0,
        2,
    )
    store_event_request(tmp_path, b'[{"event":"delivered","sg_event_id":"x"}]')
    third = collect_webhook_requests(tmp_path)
    assert (third.event_requests, third.events, third.already_collected) == (1, 1, 2)
    assert events_zone(tmp_path).row_count() == 6
    assert replies_zone(tmp_path).row_count() == 1


@pytest.mark.parametrize(
    "body",
    [b'[{"event": "open",', b'{"event": "open"}', b"\xff\xfe not text", b"", b'[{"event":"open"}] trailing'],
)
def test_a_spool_file_that_is_not_an_array_lands_as_one_raw_row_and_is_named(tmp_path, body):
    path = store_event_request(tmp_path, body, received_at=RECEIVED)
    report = collect_webhook_requests(tmp_path)
    assert (report.event_requests, report.events, report.unparseable) == (1, 1, 1)
    (issue,) = report.issues
    assert re.fullmatch(rf"{re.escape(path.name)}: not a JSON array of events \(\w+\); landed raw", issue)
    (row,) = landed(events_zone(tmp_path))
    assert row["record"] == body.decode("utf-8", errors="replace")
    assert row["_request"] == path.name and row["received_at"] == RECEIVED
    assert all(row[c] is None for c in EVENT_SCHEMA.names[5:-1]) and row["_position"] is None


def test_elements_that_are_not_events_and_values_of_the_wrong_type_land_as_null_with_their_record(tmp_path):
    body = json.dumps(
        [
            "open",
            {"email": "no-event@example.com", "sg_event_id": "e1"},
            {
                "event": "open",
                "timestamp": "not a time",
                "sg_machine_open": "maybe",
                "asm_group_id": "abc",
                "send_id": 12345,
                "reason": {"nested": True},
            },
            {"event": "open", "timestamp": 10**30, "asm_group_id": 2**70, "sg_machine_open": "false"},
            {"event": 5, "timestamp": "1765155600", "asm_group_id": "7"},
        ]
    ).encode()
    store_event_request(tmp_path, body, received_at=RECEIVED)
    report = collect_webhook_requests(tmp_path)
    assert (report.events, report.unparseable) == (5, 0)
    text, no_event, wrong_types, too_large, numeric = landed(events_zone(tmp_path))
    assert text["record"] == '"open"' and text["event"] is None
    assert no_event["email"] is None and no_event["sg_event_id"] is None
    assert json.loads(no_event["record"]) == {"email": "no-event@example.com", "sg_event_id": "e1"}
    assert (wrong_types["event_at"], wrong_types["sg_machine_open"], wrong_types["asm_group_id"]) == (
        None,
    ) * 3
    assert wrong_types["send_id"] == "12345" and wrong_types["reason"] == '{"nested": true}'
    assert (too_large["event_at"], too_large["asm_group_id"], too_large["sg_machine_open"]) == (
        None,
        None,
        False,
    )
    assert numeric["event"] == "5" and numeric["asm_group_id"] == 7
    assert numeric["event_at"] == datetime(2025, 12, 8, 1, 0, tzinfo=UTC)


REPLY = {
    "headers": "Received: by mx.sendgrid.net\nMessage-ID: <reply-1@mail.example.com>\n"
    "In-Reply-To: <sent-1@sendgrid.net>\nReferences: <first@sendgrid.net>\n <sent-1@sendgrid.net>\n"
    "From: =?UTF-8?B?6rmA66+87IiY?= <Minsu.Kim@Example.com>\nSubject: Re: spring\n",
    "from": "김민수 <Minsu.Kim@Example.com>",
    "to": "Dripline <news+0123456789abcdef01234567@reply.example.com>, other@example.com",
    "subject": "Re: 봄 신상품 안내",
    "text": "관심 있습니다.",
    "envelope": json.dumps({"to": ["news+0123456789abcdef01234567@reply.example.com"], "from": "m@x.com"}),
    "attachments": "1",
}


def test_a_human_reply_lands_with_threading_headers_sender_token_and_no_attachment_content(tmp_path):
    attachment = InboundAttachment("attachment1", "quote.pdf", "application/pdf", b"%PDF-1.7 binary")
    path = store_inbound_request(tmp_path, REPLY, [attachment], RECEIVED)
    report = collect_webhook_requests(tmp_path)
    assert (report.inbound_requests, report.replies, report.auto_replies) == (1, 1, 0)
    zone = replies_zone(tmp_path)
    assert pq.read_schema(zone.batch_path(path.stem)).equals(REPLY_SCHEMA, check_metadata=False)
    (row,) = landed(zone)
    assert row["_request"] == path.name and row["received_at"] == RECEIVED
    assert row["message_id"] == "<reply-1@mail.example.com>"
    assert row["in_reply_to"] == "<sent-1@sendgrid.net>"
    assert row["references"] == "<first@sendgrid.net> <sent-1@sendgrid.net>"
    assert (row["from_address"], row["from_raw"]) == ("minsu.kim@example.com", REPLY["from"])
    assert (row["to_raw"], row["subject"], row["text"]) == (REPLY["to"], REPLY["subject"], REPLY["text"])
    assert row["reply_token"] == "0123456789abcdef01234567"
    assert row["auto_reply_reason"] is None and row["attachment_count"] == 1
    record = json.loads(row["record"])
    assert record["fields"] == REPLY
    assert record["attachments"] == [
        {
            "field": "attachment1",
            "filename": "quote.pdf",
            "content_type": "application/pdf",
            "size": 15,
            "sha256": hashlib.sha256(b"%PDF-1.7 binary").hexdigest(),
        }
    ]
    assert "content_base64" not in row["record"]


def test_a_spool_document_replays_as_it_is_attachments_included(tmp_path):
    attachment = InboundAttachment("attachment1", "a.bin", "application/octet-stream", b"\x00\x01\xff")
    first = store_inbound_request(tmp_path, REPLY, [attachment], RECEIVED)
    document = json.loads(first.read_text(encoding="utf-8"))
    again = store_inbound_request(
        tmp_path / "elsewhere",
        document["fields"],
        document["attachments"],
        datetime.fromisoformat(document["received_at"]),
    )
    assert again.name == first.name and again.read_bytes() == first.read_bytes()


def test_the_reply_token_comes_from_the_envelope_when_the_to_header_has_none(tmp_path):
    fields = {**REPLY, "to": "Dripline News <news@reply.example.com>"}
    store_inbound_request(tmp_path, fields, (), RECEIVED)
    collect_webhook_requests(tmp_path)
    (row,) = landed(replies_zone(tmp_path))
    assert row["reply_token"] == "0123456789abcdef01234567"


def test_a_reply_to_an_untagged_address_has_no_token(tmp_path):
    fields = {
        **REPLY,
        "to": "news@reply.example.com",
        "envelope": json.dumps({"to": ["news@reply.example.com"]}),
    }
    store_inbound_request(tmp_path, fields, (), RECEIVED)
    collect_webhook_requests(tmp_path)
    (row,) = landed(replies_zone(tmp_path))
    assert row["reply_token"] is None and row["from_address"] == "minsu.kim@example.com"


@pytest.mark.parametrize(
    ("headers", "subject", "reason"),
    [
        ("Auto-Submitted: auto-replied\n", "Re: 봄 신상품 안내", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated\n", "Delivery report", "Auto-Submitted: auto-generated"),
        ("X-Autoreply: yes\n", "Re: spring", "X-Autoreply"),
        ("X-Autorespond: yes\n", "Re: spring", "X-Autorespond"),
        ("Precedence: auto_reply\n", "Re: spring", "Precedence: auto_reply"),
        ("Precedence: bulk\n", "Re: spring", "Precedence: bulk"),
        ("", "Out of Office: back on Monday", "subject: Out of Office"),
        ("", "Automatic reply: Re: spring", "subject: Automatic reply"),
        ("", "[자동 회신] 휴가 중입니다", "subject: 자동 회신"),
        ("", "부재중 안내", "subject: 부재중"),
        ("Auto-Submitted: no\n", "Re: spring", None),
        ("Precedence: list\n", "Re: spring", None),
        ("", "Re: 봄 신상품 안내", None),
    ],
)
def test_automatic_answers_say_why_and_human_replies_do_not(tmp_path, headers, subject, reason):
    fields = {**REPLY, "headers": f"Message-ID: <r@x>\n{headers}", "subject": subject}
    store_inbound_request(tmp_path, fields, (), RECEIVED)
    report = collect_webhook_requests(tmp_path)
    (row,) = landed(replies_zone(tmp_path))
    assert row["auto_reply_reason"] == reason
    assert report.auto_replies == (reason is not None)


def test_a_raw_mode_post_is_read_from_the_whole_mime_message(tmp_path):
    raw = (
        "Message-ID: <raw-1@mail.example.com>\r\nIn-Reply-To: <sent-9@sendgrid.net>\r\n"
        "From: Lee <LEE@example.com>\r\nTo: news+abcdefabcdefabcdefabcdef@reply.example.com\r\n"
        "Subject: =?UTF-8?B?7J6Q64+ZIOydkeuLtQ==?=\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        '--b1\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "7JWI64WV7ZWY7IS47JqU\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b1--\r\n"
    )
    store_inbound_request(tmp_path, {"email": raw, "envelope": "{}"}, (), RECEIVED)
    collect_webhook_requests(tmp_path)
    (row,) = landed(replies_zone(tmp_path))
    assert (row["message_id"], row["in_reply_to"]) == ("<raw-1@mail.example.com>", "<sent-9@sendgrid.net>")
    assert (row["from_address"], row["subject"], row["text"]) == (
        "lee@example.com",
        "자동 응답",
        "안녕하세요",
    )
    assert row["reply_token"] == "abcdefabcdefabcdefabcdef"
    assert row["auto_reply_reason"] == "subject: 자동 응답"


@pytest.mark.parametrize(
    "content",
    [
        b"not json at all",
        b'{"received_at": "x"}',
        b'{"fields": ["a"]}',
        b"[]",
        b'{"fields": {}, "attachments": 3}',
    ],
)
def test_an_inbound_spool_file_that_cannot_be_read_lands_raw_and_is_named(tmp_path, content):
    name = "20261208T010203.456789Z-0123456789abcdef.json"
    durable_write(spool_dir(tmp_path, "inbound"), name, content)
    report = collect_webhook_requests(tmp_path)
    assert (report.inbound_requests, report.replies, report.unparseable) == (1, 1, 1)
    assert report.issues[0].startswith(f"{name}: not an inbound request object")
    (row,) = landed(replies_zone(tmp_path))
    assert row["record"] == content.decode() and row["received_at"] == RECEIVED
    assert all(row[c] is None for c in REPLY_SCHEMA.names[4:-1])


def test_a_spool_file_dropped_under_another_name_still_lands_with_no_receive_time(tmp_path):
    directory = spool_dir(tmp_path, "events")
    directory.mkdir(parents=True)
    (directory / "captured.json").write_text('[{"event":"open","sg_event_id":"a"}]')
    (directory / ".tmp-1234-x.json.partial").write_text("half a wri")
    report = collect_webhook_requests(tmp_path)
    assert (report.event_requests, report.events) == (1, 1)
    (row,) = landed(events_zone(tmp_path))
    assert row["_request"] == "captured.json" and row["received_at"] is None and row["event"] == "open"


def test_a_naive_receive_time_is_refused(tmp_path):
    with pytest.raises(ValueError, match="timezone-aware"):
        store_event_request(tmp_path, b"[]", received_at=datetime(2026, 1, 1))
    assert not Path(tmp_path, "sendgrid").exists() or not list(spool_dir(tmp_path, "events").iterdir())


def test_half_written_temporaries_older_than_six_hours_are_removed_and_fresh_ones_kept(tmp_path):
    directory = spool_dir(tmp_path, "inbound")
    directory.mkdir(parents=True)
    old, fresh = directory / ".tmp-a-x.json.partial", directory / ".tmp-b-y.json.partial"
    old.write_text("{")
    fresh.write_text("{")
    finished = store_inbound_request(tmp_path, {"from": "a@example.com"}, (), RECEIVED)
    os.utime(old, (time.time() - 7 * 3600,) * 2)
    os.utime(finished, (time.time() - 7 * 3600,) * 2)
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in directory.iterdir()) == sorted([fresh.name, finished.name])
