"""`dbt build` with order sheets landed next to contacts: buyers become customers by the identity rules,
purchases reach `customers`, and what cannot be linked is in `quarantined_rows`.

One module-scoped build serves every check; the re-export scenario lands a second version on its own home.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.core.landing import ORDER_READER_SCHEMA
from connectors.files.orders import orders_zone
from tests.dbt.test_dbt_build import (
    FORMS,
    SHEETS,
    at,
    dbt_build,
    expected_customer_id,
    form,
    land,
    prepare_landing,
    query,
    sheet,
)

FAST = ("--exclude-resource-type", "unit_test")
EMPTY_DATE = "3월.xlsx sheet '주문' row 13: 주문일자 (order_at): empty"
SORA = {"name": "이소라", "phone": "+821055556666"}


def order(
    file: str,
    row: int,
    order_id: str | None,
    ordered_at: str,
    amount: str | None,
    *,
    currency: str | None = "KRW",
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    product: str | None = "케이크",
    quantity: float | None = 1.0,
    rejection_reason: str | None = None,
) -> dict[str, object]:
    """An order reader's row of sheet 주문 of `file`; a +8210 phone is a mobile."""
    record = dict.fromkeys(ORDER_READER_SCHEMA.names)
    record.update(
        _source="spreadsheets",
        _source_file=file,
        _source_sheet="주문",
        _source_row=row,
        source_record_id=f"{file}:주문:row={row}",
        order_id=order_id,
        ordered_at=at(ordered_at) if ordered_at else None,
        amount=Decimal(amount) if amount is not None else None,
        currency=currency,
        product=product,
        quantity=quantity,
        raw_amount=amount,
        raw_name=name,
        raw_email=email,
        raw_phone=phone,
        raw_company=company,
        raw_row=f'{{"row": {row}}}',
        full_name=name,
        email=email,
        phone=phone,
        phone_type=None if phone is None else "mobile" if phone.startswith("+8210") else "fixed_line",
        company=company,
        rejection_reason=rejection_reason,
    )
    return record


def land_orders(home: Path, batch_id: str, loaded_at: datetime, *rows: dict) -> None:
    zone = orders_zone(home / "landing")
    zone.prepare()
    zone.write_batch(batch_id, rows, loaded_at=loaded_at)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("orders-home")
    prepare_landing(home)
    land(
        home,
        SHEETS,
        "contacts",
        at("2024-01-10"),
        sheet("s-minsu", "김민수", "minsu@haneul.kr", "+821011112222", company="하늘상사"),
        sheet("s-minsu-2", "김민수", "kim@alpha.kr", "+821030000001", company="알파"),
        sheet("s-hana", "정하나", "hana@jung.kr", company="(주)정원"),
    )
    land(home, FORMS, "forms", at("2024-01-15"), form("f-sora", "이소라", "sora@lee.kr", "+821055556666"))
    land_orders(
        home,
        "orders-march",
        at("2024-04-01"),
        # 이소라 by phone: two lines of one order, a second order, and a refund line of the first.
        order("3월.xlsx", 4, "1001", "2024-03-02", "30000", **SORA),
        order("3월.xlsx", 5, "1001", "2024-03-02", "10000", **SORA, product="쿠키"),
        order("3월.xlsx", 6, "1002", "2024-03-20", "50000", **SORA),
        order(
            "3월.xlsx",
            7,
            "1001",
            "2024-03-25",
            "-10000",
            name="이소라",
            phone="+821055556666",
            product="쿠키",
        ),
        # a buyer no contact list knows
        order("3월.xlsx", 8, "1003", "2024-03-03", "15000", name="Park Jihoon", email="jihoon@park.kr"),
        order("3월.xlsx", 9, "1004", "2024-03-28", "25000", name="Park Jihoon", email="jihoon@park.kr"),
        # name only: 정하나 is one customer; 김민수 is two
        order("3월.xlsx", 10, None, "2024-03-05", "7000", name="정하나", company="정원"),
        order("3월.xlsx", 11, None, "2024-03-06", "8000", name="김민수"),
        # an order in dollars for the customer with a won order
        order(
            "3월.xlsx",
            12,
            "1005",
            "2024-03-29",
            "12.50",
            currency="USD",
            name="이소라",
            phone="+821055556666",
        ),
        order(
            "3월.xlsx",
            13,
            "1006",
            None,
            None,
            currency=None,
            name="??",
            rejection_reason="3월.xlsx sheet '주문' row 13: 주문일자 (order_at): empty",
        ),
    )
    land_orders(
        home,
        "orders-q1",
        at("2024-04-02"),
        # the quarter's export repeats order 1002 and adds one
        order("1분기.xlsx", 4, "1002", "2024-03-20", "50000", **SORA),
        order("1분기.xlsx", 5, "0901", "2024-01-09", "20000", **SORA),
    )
    dbt_build(home, *FAST)
    yield home


def customer_of(home: Path, source: str, record_id: str) -> str:
    [(customer_id,)] = query(
        home,
        "select customer_id from customer_source_records where source = ? and source_record_id = ?",
        source,
        record_id,
    )
    return customer_id


def purchases_of(home: Path, customer_id: str) -> tuple:
    [row] = query(
        home,
        "select purchase_count, total_value, currency, first_purchase_at, last_purchase_at, record_count"
        " from customers where customer_id = ?",
        customer_id,
    )
    return row


def test_a_buyer_known_by_phone_gets_the_purchases_of_the_sheets(home):
    sora = customer_of(home, "forms", "f-sora")
    purchase_keys = query(
        home, "select purchase_key from int_customers__purchases where customer_id = ? order by all", sora
    )
    assert purchase_keys == [
        ("spreadsheets:order=0901",),
        ("spreadsheets:order=1001",),
        ("spreadsheets:order=1002",),
        ("spreadsheets:order=1005",),
    ]
    values = dict(
        query(
            home,
            "select purchase_key, purchase_value from int_customers__purchases where customer_id = ?",
            sora,
        )
    )
    # 1001 nets its refund line; 1002, in two files, counts once.
    assert values["spreadsheets:order=1001"] == 30000
    assert values["spreadsheets:order=1002"] == 50000


def test_a_customer_with_won_and_dollar_orders_has_no_single_total(home):
    sora = customer_of(home, "forms", "f-sora")
    count, total, currency, first, last, records = purchases_of(home, sora)
    assert (count, total, currency) == (4, None, "KRW,USD")
    assert (first, last) == (at("2024-01-09"), at("2024-03-29"))
    # one form record plus one buyer record, however many order rows
    assert records == 2


def test_a_buyer_only_in_the_order_sheet_becomes_a_customer_with_her_purchases(home):
    [(customer_id, record_id)] = query(
        home,
        "select customer_id, source_record_id from customer_source_records where email = 'jihoon@park.kr'",
    )
    assert record_id.startswith("order-buyer:")
    assert customer_id == expected_customer_id("spreadsheets", record_id)
    count, total, currency, first, last, records = purchases_of(home, customer_id)
    assert (count, total, currency, first, last, records) == (
        2,
        40000,
        "KRW",
        at("2024-03-03"),
        at("2024-03-28"),
        1,
    )
    [(name, seen)] = query(
        home, "select full_name, last_seen_at from customers where customer_id = ?", customer_id
    )
    assert (name, seen) == ("Park Jihoon", at("2024-03-28"))


def test_a_name_only_buyer_links_when_the_name_and_company_identify_one_customer(home):
    hana = customer_of(home, "spreadsheets", "s-hana")
    assert purchases_of(home, hana)[:3] == (1, 7000, "KRW")
    [(rule,)] = query(home, "select link_rule from int_orders__purchases where source_row = 10")
    assert rule == "name_company"


def test_a_name_only_buyer_two_customers_share_is_linked_to_no_one_and_quarantined(home):
    minsus = {customer_of(home, "spreadsheets", r) for r in ("s-minsu", "s-minsu-2")}
    assert len(minsus) == 2
    for customer_id in minsus:
        assert purchases_of(home, customer_id)[0] == 0
    [(reason,)] = query(
        home, "select reason from quarantined_rows where source_file = '3월.xlsx' and source_row = 11"
    )
    assert reason == (
        "3월.xlsx sheet '주문' row 11: the buyer '김민수' gives no valid email or phone, "
        "and the name matches 2 customers, so the order is linked to no one"
    )


def test_a_rejected_order_row_is_quarantined_and_no_purchase(home):
    assert query(
        home,
        "select source, source_sheet, reason from quarantined_rows"
        " where source_file = '3월.xlsx' and source_row = 13",
    ) == [("spreadsheets", "주문", EMPTY_DATE)]
    assert query(home, "select count(*) from int_orders__purchases where order_id = '1006'") == [(0,)]


def test_every_order_row_is_a_purchase_line_or_quarantined(home):
    [(rows, lines, quarantined)] = query(
        home,
        """
        select
            (select count(*) from stg_spreadsheets__orders),
            (select count(*) from stg_spreadsheets__orders where not is_rejected),
            (select count(*) from quarantined_rows where source_file in ('3월.xlsx', '1분기.xlsx'))
        """,
    )
    assert (rows, lines, quarantined) == (12, 11, 2)


def test_a_file_exported_again_replaces_its_rows_and_keeps_ids_and_keys(tmp_path):
    prepare_landing(tmp_path)
    land_orders(
        tmp_path,
        "v1",
        at("2024-04-01"),
        order("주문.xlsx", 2, None, "2024-03-02", "10000", **SORA),
        order("주문.xlsx", 3, None, "2024-03-03", "20000", **SORA),
    )
    dbt_build(tmp_path, *FAST)
    before = dict(query(tmp_path, "select purchase_key, customer_id from int_customers__purchases"))
    assert len(before) == 2

    # the edited export: a row inserted above, the 3-03 order removed
    land_orders(
        tmp_path,
        "v2",
        at("2024-04-05"),
        order("주문.xlsx", 2, None, "2024-03-01", "5000", **SORA),
        order("주문.xlsx", 3, None, "2024-03-02", "10000", **SORA),
    )
    dbt_build(tmp_path, *FAST)
    after = dict(query(tmp_path, "select purchase_key, customer_id from int_customers__purchases"))
    kept = set(before) & set(after)
    assert len(kept) == 1 and len(after) == 2
    assert set(after.values()) == set(before.values()), "the buyer's customer id changed"
    [(count, total)] = query(tmp_path, "select purchase_count, total_value from customers")
    assert (count, total) == (2, 15000)
