"""Every API client refuses an answer of the wrong shape on the page that brought it, naming that page:
checked for each source against its loopback fake, with the answers each API could plausibly send."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.apis.hubspot import HubSpotClient
from connectors.apis.pipedrive import PipedriveClient
from connectors.apis.typeform import TypeformClient
from tests.connectors.apis.harness import malformed_body_error
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.pipedrive import FakePipedrive
from tests.fakes.server import FakeApi
from tests.fakes.typeform import FakeTypeform, form, question

TOKEN = "malformed-answers-token-0042"
FORM_ID = "Kx7Pq2Lm"
QUICK = {"timeout": (1.0, 1.0), "max_retries": 0}


def _typeform(fake: FakeTypeform) -> Iterator[dict[str, Any]]:
    fake.add_form(form(FORM_ID, question("em01", "email", "email", "이메일 주소")))
    with TypeformClient(fake.url, SecretStr(TOKEN), request_interval=0.0, **QUICK) as client:
        yield client.iter_pages(FORM_ID)


def _pipedrive(fake: FakePipedrive) -> Iterator[Any]:
    with PipedriveClient(fake.url, SecretStr(TOKEN), **QUICK) as client:
        yield client.iter_pages("persons")


def _hubspot(fake: FakeHubSpot) -> Iterator[Any]:
    with HubSpotClient(fake.url, SecretStr(TOKEN), **QUICK) as client:
        yield client.iter_pages("contacts")


# Each source: its fake, the first walk of a client on it, and how its errors name the first page.
SOURCES: dict[str, tuple[type[FakeApi], Callable[[Any], Iterator[Any]], str]] = {
    "pipedrive": (FakePipedrive, _pipedrive, "persons page 1 (first page)"),
    "hubspot": (FakeHubSpot, _hubspot, "contacts page 1 (first page)"),
    "typeform": (FakeTypeform, _typeform, "page 1 (first page)"),
}

ANSWERS = [
    ("pipedrive", b'{"success": true, "data": {"id": 1}}', "data of type dict"),
    ("pipedrive", b'{"success": false, "data": []}', "success=False"),
    ("pipedrive", b'{"success": true, "data": [{"name": "no id"}]}', "data[0]"),
    ("pipedrive", b'{"success": true, "data": [], "additional_data": {"next_cursor": 5}}', "next_cursor 5"),
    ("hubspot", b'{"results": {"id": "1"}}', "results of type dict"),
    ("hubspot", b'{"paging": {}}', "results of type NoneType"),
    ("hubspot", b'{"results": [{"id": 1, "properties": {}}]}', "results[0]"),
    ("hubspot", b'{"results": [{"id": "1"}]}', "without a properties object"),
    ("hubspot", b'{"results": [], "paging": {"next": {"link": "x"}}}', "without a string after"),
    ("hubspot", b"[]", "expected a JSON object"),
    ("typeform", b'{"total_items": 1, "page_count": 1}', "items of type NoneType"),
    ("typeform", b'{"items": {"token": "x"}}', "items of type dict"),
    ("typeform", b'{"items": [{"answers": []}]}', "items[0] that is not a response with a token"),
    ("typeform", b'{"items": [{"token": "x", "answers": {"a": 1}}]}', "items[0].answers"),
    ("typeform", b'{"items": [], "total_items": "many"}', "total_items 'many'"),
    ("typeform", b'[{"token": "x"}]', "expected a JSON object"),
]


@contextmanager
def first_walk(source: str) -> Iterator[tuple[FakeApi, Any]]:
    fake_class, walk, _ = SOURCES[source]
    with fake_class.running(token=TOKEN) as fake:
        yield fake, contextmanager(walk)(fake)


@pytest.mark.parametrize(("source", "body", "problem"), ANSWERS)
def test_an_unexpected_answer_is_malformed_and_names_the_first_page(source, body, problem):
    with first_walk(source) as (fake, walk), walk as pages:
        message = malformed_body_error(fake, pages, body, problem)

    assert SOURCES[source][2] in message
