"""The receiver over real HTTP: `dripline receiver` (uvicorn) in its own process, posted to as SendGrid posts.

Every refused request is checked to leave the spool exactly as it was: no file, no temporary file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.webhooks import collect_webhook_requests
from tests.webhooks.harness import (
    EVENTS_PATH,
    INBOUND_PATH,
    ReceiverProcess,
    SendGridSigner,
    event_batch,
    spool_entries,
)

MAX_EVENT_BYTES = 64 * 1024
MAX_INBOUND_BYTES = 256 * 1024
SECRET = "parse-secret-ä1"


@pytest.fixture(scope="module")
def signer() -> SendGridSigner:
    return SendGridSigner()


@pytest.fixture(scope="module")
def parse_signer() -> SendGridSigner:
    return SendGridSigner()


def _receiver(home: Path, env: dict[str, str]) -> Iterator[ReceiverProcess]:
    receiver = ReceiverProcess(home, env).start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def receiver(tmp_path_factory, signer, parse_signer) -> Iterator[ReceiverProcess]:
    """Signed events, basic auth and a Parse security policy on inbound mail, small size limits."""
    yield from _receiver(
        tmp_path_factory.mktemp("signed") / "home",
        {
            "DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
            "DRIPLINE_INBOUND_SECRET": SECRET,
            "DRIPLINE_INBOUND_PARSE_PUBLIC_KEY": parse_signer.public_key,
            "DRIPLINE_RECEIVER_MAX_EVENT_BYTES": str(MAX_EVENT_BYTES),
            "DRIPLINE_RECEIVER_MAX_INBOUND_BYTES": str(MAX_INBOUND_BYTES),
        },
    )


@pytest.fixture(scope="module")
def basic_receiver(tmp_path_factory, signer) -> Iterator[ReceiverProcess]:
    """Inbound mail behind basic auth only (no Parse security policy)."""
    yield from _receiver(
        tmp_path_factory.mktemp("basic") / "home",
        {"DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key, "DRIPLINE_INBOUND_SECRET": SECRET},
    )


@pytest.fixture(scope="module")
def unconfigured_receiver(tmp_path_factory) -> Iterator[ReceiverProcess]:
    yield from _receiver(tmp_path_factory.mktemp("unconfigured") / "home", {})


def post_events(
    receiver: ReceiverProcess, body: bytes, headers: dict[str, str], **kwargs
) -> requests.Response:
    return requests.post(
        receiver.url + EVENTS_PATH,
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=30,
        **kwargs,
    )


def inbound_form(
    fields: dict[str, str | bytes], files: dict[str, tuple[str, bytes, str]] | None = None
) -> tuple[bytes, str]:
    """A multipart body as a real client (requests) encodes it, and its Content-Type."""
    prepared = requests.Request(
        "POST", "http://x/", data={}, files={**{k: (None, v) for k, v in fields.items()}, **(files or {})}
    ).prepare()
    return prepared.body, prepared.headers["Content-Type"]


def post_inbound(
    receiver: ReceiverProcess,
    body: bytes,
    content_type: str,
    signer: SendGridSigner | None,
    auth: tuple[str, str] | None = ("parse", SECRET),
    **signing,
) -> requests.Response:
    headers = {"Content-Type": content_type, **(signer.headers(body, **signing) if signer else {})}
    return requests.post(receiver.url + INBOUND_PATH, data=body, headers=headers, auth=auth, timeout=30)


REPLY_FIELDS = {
    "headers": "Message-ID: <reply-1@mail.example.com>\nIn-Reply-To: <sent-1@sendgrid.net>\n"
    "References: <sent-1@sendgrid.net>\nSubject: Re: 봄 신상품 안내\n",
    "from": "김민수 <Minsu.Kim@Example.com>",
    "to": "news+0123456789abcdef01234567@reply.example.com",
    "subject": "Re: 봄 신상품 안내",
    "text": "관심 있습니다. 연락 주세요.",
    "envelope": json.dumps({"to": ["news+0123456789abcdef01234567@reply.example.com"], "from": "m@x.com"}),
    "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8", "text": "UTF-8"}),
    "attachments": "1",
}


def test_a_signed_batch_is_spooled_byte_for_byte_before_the_answer(receiver, signer):
    body = event_batch(0, 50)
    response = post_events(receiver, body, signer.headers(body))
    assert response.status_code == 200, response.text
    stored = response.json()["stored"]
    path = receiver.home / "landing/sendgrid/webhook_requests/events" / stored
    assert path.read_bytes() == body
    assert stored.endswith(f"-{hashlib.sha256(body).hexdigest()[:16]}.json")


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no signature headers", 401),
        ("a timestamp that is not a number", 401),
        ("signed by another key", 403),
        ("a body changed after signing", 403),
        ("a signature that is not base64", 403),
        ("replayed: signed ten minutes ago", 403),
        ("signed ten minutes in the future", 403),
        ("not JSON", 400),
        ("a JSON object, not an array", 400),
        ("an array holding a string", 400),
        ("not UTF-8", 400),
        ("text/plain", 415),
        ("form-encoded", 415),
        ("no content type", 415),
        ("over the size limit", 413),
        ("over the size limit, chunked", 413),
    ],
)
def test_refused_event_posts_get_their_4xx_and_store_nothing(receiver, signer, case, status):
    body = event_batch(100, 3)
    headers = {"Content-Type": "application/json", **signer.headers(body)}
    if case == "no signature headers":
        headers = {"Content-Type": "application/json"}
    elif case == "a timestamp that is not a number":
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = "yesterday"
    elif case == "signed by another key":
        headers.update(SendGridSigner().headers(body))
    elif case == "a body changed after signing":
        body = body.replace(b"delivered", b"open", 1)
    elif case == "a signature that is not base64":
        headers["X-Twilio-Email-Event-Webhook-Signature"] = "%%%not-base64%%%"
    elif case == "replayed: signed ten minutes ago":
        headers.update(signer.headers(body, timestamp=int(time.time()) - 600))
    elif case == "signed ten minutes in the future":
        headers.update(signer.headers(body, timestamp=int(time.time()) + 600))
    elif case in ("not JSON", "a JSON object, not an array", "an array holding a string", "not UTF-8"):
        body = {
            "not JSON": b'[{"event": "open",',
            "a JSON object, not an array": b'{"event": "open"}',
            "an array holding a string": b'[{"event": "open"}, "open"]',
            "not UTF-8": b'[{"event": "\xff"}]',
        }[case]
        headers.update(signer.headers(body))
    elif case == "text/plain":
        headers["Content-Type"] = "text/plain"
    elif case == "form-encoded":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif case == "no content type":
        headers["Content-Type"] = ""
    elif case.startswith("over the size limit"):
        body = event_batch(0, 400)
        assert len(body) > MAX_EVENT_BYTES
        headers.update(signer.headers(body))
    before = spool_entries(receiver.home)
    if case == "over the size limit, chunked":
        response = requests.post(
            receiver.url + EVENTS_PATH,
            data=(body[i : i + 8192] for i in range(0, len(body), 8192)),
            headers=headers,
            timeout=30,
        )
    else:
        response = requests.post(receiver.url + EVENTS_PATH, data=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert spool_entries(receiver.home) == before


def test_the_same_signed_batch_twice_within_the_tolerance_is_kept_twice_for_dbt_to_deduplicate(
    receiver, signer
):
    body = event_batch(200, 2)
    headers = signer.headers(body)
    first = post_events(receiver, body, headers)
    second = post_events(receiver, body, headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["stored"] != second.json()["stored"]


def test_other_methods_and_paths_are_refused(receiver):
    assert requests.get(receiver.url + EVENTS_PATH, timeout=10).status_code == 405
    assert requests.put(receiver.url + INBOUND_PATH, data=b"x", timeout=10).status_code == 405
    assert requests.post(receiver.url + "/webhooks/sendgrid/other", data=b"x", timeout=10).status_code == 404


def test_a_signed_inbound_post_with_a_binary_attachment_is_spooled_whole(receiver, parse_signer):
    binary = bytes(range(256)) * 40
    body, content_type = inbound_form(
        REPLY_FIELDS, {"attachment1": ("견적서.pdf", binary, "application/pdf")}
    )
    response = post_inbound(receiver, body, content_type, parse_signer)
    assert response.status_code == 200, response.text
    path = receiver.home / "landing/sendgrid/webhook_requests/inbound" / response.json()["stored"]
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["fields"] == REPLY_FIELDS
    (attachment,) = document["attachments"]
    assert base64.b64decode(attachment["content_base64"]) == binary
    assert attachment == {
        "field": "attachment1",
        "filename": "견적서.pdf",
        "content_type": "application/pdf",
        "size": len(binary),
        "sha256": hashlib.sha256(binary).hexdigest(),
        "content_base64": attachment["content_base64"],
    }
    assert path.name.startswith(document["received_at"][:10].replace("-", ""))


def test_inbound_text_fields_are_decoded_with_the_charset_sendgrid_names(basic_receiver):
    fields = {
        **REPLY_FIELDS,
        "subject": "Re: 안내".encode("euc-kr"),
        "text": "부재중입니다".encode("cp949"),
        "charsets": json.dumps({"subject": "EUC-KR", "text": "ks_c_5601-1987", "from": "UTF-8"}),
    }
    body, content_type = inbound_form(fields)
    response = post_inbound(basic_receiver, body, content_type, None)
    assert response.status_code == 200, response.text
    path = basic_receiver.home / "landing/sendgrid/webhook_requests/inbound" / response.json()["stored"]
    stored = json.loads(path.read_text(encoding="utf-8"))["fields"]
    assert stored["subject"] == "Re: 안내"
    assert stored["text"] == "부재중입니다"
    assert stored["from"] == REPLY_FIELDS["from"]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no basic auth", 401),
        ("a wrong secret", 401),
        ("the secret as the user name", 401),
        ("not basic auth", 401),
        ("unsigned", 401),
        ("signed by another key", 403),
        ("a body changed after signing", 403),
        ("signed ten minutes ago", 403),
        ("JSON instead of a form", 415),
        ("form-encoded", 415),
        ("a cut-off form", 400),
        ("a form with no boundary", 400),
        ("over the size limit", 413),
    ],
)
def test_refused_inbound_posts_get_their_4xx_and_store_nothing(receiver, parse_signer, case, status):
    body, content_type = inbound_form(REPLY_FIELDS, {"attachment1": ("a.txt", b"hello", "text/plain")})
    headers = {"Content-Type": content_type, **parse_signer.headers(body)}
    auth: tuple[str, str] | None = ("anyone", SECRET)
    if case == "no basic auth":
        auth = None
    elif case == "a wrong secret":
        auth = ("parse", SECRET + "x")
    elif case == "the secret as the user name":
        auth = (SECRET, "parse")
    elif case == "not basic auth":
        auth = None
        headers["Authorization"] = f"Bearer {SECRET}"
    elif case == "unsigned":
        del headers["X-Twilio-Email-Event-Webhook-Signature"]
    elif case == "signed by another key":
        headers.update(SendGridSigner().headers(body))
    elif case == "a body changed after signing":
        body = body.replace(b"hello", b"jello")
    elif case == "signed ten minutes ago":
        headers.update(parse_signer.headers(body, timestamp=int(time.time()) - 600))
    elif case == "JSON instead of a form":
        body = json.dumps(REPLY_FIELDS).encode()
        headers = {"Content-Type": "application/json", **parse_signer.headers(body)}
    elif case == "form-encoded":
        body = b"from=a%40b.com&text=hi"
        headers = {"Content-Type": "application/x-www-form-urlencoded", **parse_signer.headers(body)}
    elif case == "a cut-off form":
        body = body[: len(body) // 2]
        headers.update(parse_signer.headers(body))
    elif case == "a form with no boundary":
        headers["Content-Type"] = "multipart/form-data"
    elif case == "over the size limit":
        body, content_type = inbound_form(
            REPLY_FIELDS, {"attachment1": ("big.bin", b"x" * MAX_INBOUND_BYTES, "a/b")}
        )
        headers = {"Content-Type": content_type, **parse_signer.headers(body)}
    before = spool_entries(receiver.home)
    response = requests.post(receiver.url + INBOUND_PATH, data=body, headers=headers, auth=auth, timeout=30)
    assert response.status_code == status, response.text
    if case in ("no basic auth", "a wrong secret", "the secret as the user name", "not basic auth"):
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert spool_entries(receiver.home) == before


def test_without_a_parse_policy_basic_auth_alone_admits_inbound_mail(basic_receiver):
    body, content_type = inbound_form(REPLY_FIELDS)
    assert post_inbound(basic_receiver, body, content_type, None, auth=("parse", "wrong")).status_code == 401
    # requests sends a non-ASCII password as Latin-1; a URL's percent-encoded credentials arrive as UTF-8
    response = post_inbound(basic_receiver, body, content_type, None, auth=("any-user", SECRET))
    assert response.status_code == 200, response.text
    utf8 = base64.b64encode(f"parse:{SECRET}".encode()).decode()
    response = requests.post(
        basic_receiver.url + INBOUND_PATH,
        data=body,
        headers={"Content-Type": content_type, "Authorization": f"Basic {utf8}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_an_unconfigured_receiver_refuses_everything_and_stores_nothing(unconfigured_receiver, signer):
    body = event_batch(0, 2)
    assert post_events(unconfigured_receiver, body, signer.headers(body)).status_code == 503
    form, content_type = inbound_form(REPLY_FIELDS)
    assert post_inbound(unconfigured_receiver, form, content_type, None).status_code == 503
    assert spool_entries(unconfigured_receiver.home) == []
    assert "DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY is not set" in unconfigured_receiver.log()


def test_a_spool_that_cannot_be_written_answers_5xx_so_sendgrid_retries(tmp_path, signer):
    home = tmp_path / "home"
    receiver = ReceiverProcess(home, {"DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key}).start()
    try:
        events_dir = home / "landing/sendgrid/webhook_requests/events"
        events_dir.rmdir()
        events_dir.write_text("a file where the spool directory should be")
        body = event_batch(0, 2)
        response = post_events(receiver, body, signer.headers(body))
        assert response.status_code == 503
        assert "could not store" in response.json()["error"]
        events_dir.unlink()
        retried = post_events(receiver, body, signer.headers(body))
        assert retried.status_code == 200
        assert (events_dir / retried.json()["stored"]).read_bytes() == body
    finally:
        receiver.stop()


def test_what_the_receiver_spooled_is_what_the_pickup_lands(basic_receiver, signer):
    before = collect_webhook_requests(basic_receiver.home / "landing")
    body = event_batch(300, 5)
    assert post_events(basic_receiver, body, signer.headers(body)).status_code == 200
    report = collect_webhook_requests(basic_receiver.home / "landing")
    assert (report.event_requests, report.events) == (1, 5)
    assert (
        report.already_collected == before.event_requests + before.inbound_requests + before.already_collected
    )
    assert report.unparseable == 0


def test_a_key_that_is_not_a_public_key_stops_the_receiver_at_start_naming_the_setting(tmp_path):
    receiver = ReceiverProcess(tmp_path / "home", {"DRIPLINE_INBOUND_PARSE_PUBLIC_KEY": "bm90IGEga2V5"})
    with pytest.raises(RuntimeError, match="exited with 2") as failure:
        receiver.start()
    assert "DRIPLINE_INBOUND_PARSE_PUBLIC_KEY is not a base64 public key" in str(failure.value)


def test_a_client_that_goes_away_mid_body_leaves_nothing_and_the_receiver_serves_on(receiver, signer):
    body = event_batch(400, 20)
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **signer.headers(body)}
    before = spool_entries(receiver.home)
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as connection:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        connection.sendall(f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body[:1000])
        time.sleep(0.2)
    time.sleep(0.2)
    assert spool_entries(receiver.home) == before
    assert post_events(receiver, body, signer.headers(body)).status_code == 200
