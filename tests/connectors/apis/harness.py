"""What the API client and sync tests share: a fake and a client as fixtures, a walk read until it fails,
and the rows a zone has landed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import pyarrow.parquet as pq
import pytest

from connectors.apis.http import ApiClient
from connectors.core.landing import LandingZone
from tests.fakes.server import FakeApi

PageT = TypeVar("PageT")


def fake_fixture(
    fake_class: type[FakeApi], *args: Any, prepare: Callable[[Any], None] = lambda _fake: None, **kwargs: Any
):
    """A ``fake`` fixture: ``fake_class`` running on loopback for one test, after ``prepare``."""

    @pytest.fixture(name="fake")
    def running_fake() -> Iterator[Any]:
        with fake_class.running(*args, **kwargs) as running:
            prepare(running)
            yield running

    return running_fake


def client_fixture(build: Callable[[Any], ApiClient]):
    """A ``client`` fixture: ``build(fake)``, closed after the test."""

    @pytest.fixture(name="client")
    def open_client(fake: Any) -> Iterator[Any]:
        with build(fake) as client:
            yield client

    return open_client


def pages_until_error(pages: Iterable[PageT], error: type[Exception]) -> tuple[list[PageT], str]:
    """The pages a walk yielded before it raised ``error`` (which it must), and the error's message."""
    landed: list[PageT] = []
    with pytest.raises(error) as raised:
        for page in pages:
            landed.append(page)
    return landed, str(raised.value)


def first_page_error(pages: Iterable[Any], error: type[Exception], problem: str) -> str:
    """The message of ``error``, which the walk must raise with ``problem`` in it."""
    with pytest.raises(error, match=re.escape(problem)) as raised:
        list(pages)
    return str(raised.value)


def landed_rows(zone: LandingZone) -> list[dict]:
    """Every row landed in ``zone``, batch by batch."""
    rows = []
    for batch_id in zone.batch_ids():
        rows += pq.read_table(zone.batch_path(batch_id)).to_pylist()
    return rows
