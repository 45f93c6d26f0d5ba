"""Order sheets: the rows of a spreadsheet that records sales (주문일자, 고객명, 연락처, 결제금액, …).

A row becomes one order record of ``ORDER_READER_SCHEMA``: the order date, the amount and its currency,
the product and quantity, and the buyer's name, email, phone and company normalised as for a contact.
The currency is the row's currency cell, else the symbol or word written with the amount (``₩``,
``원``, ``$``), else the configured default (``DRIPLINE_DEFAULT_CURRENCY``). A negative amount is a
refund and is kept as such; what a purchase is (several rows of one order id, the same order in two
exported files) is decided in dbt (``int_orders__purchases``).

A row is rejected, and lands with the reason, when its order date or amount is missing or unreadable,
its currency is unknown or contradicts the amount's symbol, or nothing tells who bought (no valid email,
no valid phone and no name). A name alone is enough to land: dbt links such an order only when the name
identifies exactly one customer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from pathlib import Path

from connectors.core.landing import ORDER_READER_SCHEMA, ORDER_RECORD_SCHEMA, LandingZone
from connectors.core.normalize import (
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
    parse_amount,
    parse_currency,
    parse_quantity,
    parse_timestamp,
)
from connectors.core.records import RecordBuilder, SheetReport, _json_object, _unique_keys

__all__ = ["ORDER_RECORD_TUPLE", "OrderRecords", "order_builder", "orders_zone"]

ORDER_RECORD_TUPLE = tuple(ORDER_READER_SCHEMA.names)
_BUYER_FIELDS = ("name", "email", "phone", "company")


def orders_zone(landing_dir: Path) -> LandingZone:
    """``landing/spreadsheets/orders``: a batch per spreadsheet file (zero rows without an order sheet)."""
    return LandingZone(landing_dir, "spreadsheets", "orders", ORDER_RECORD_SCHEMA)


def order_builder(relative_file: str, *, region: str, local_tz: str) -> RecordBuilder:
    """The builder of one file's order records; every order row is identified by its position."""
    return RecordBuilder(
        source="spreadsheets",
        relative_file=relative_file,
        region=region,
        local_tz=local_tz,
        id_key=lambda sheet_name, value: f"{relative_file}:{sheet_name or ''}:id={value}",
        row_key=lambda sheet_name, row: f"{relative_file}:{sheet_name or ''}:row={row}",
        schema=ORDER_READER_SCHEMA,
        record_tuple=ORDER_RECORD_TUPLE,
    )


class OrderRecords:
    """Turns the data rows of one order sheet into order records (same interface as ``TableRecords``).

    Rows are identified by their number, never by the order id: one order often spans several rows.
    """

    def __init__(
        self,
        builder: RecordBuilder,
        *,
        sheet: str | None,
        headers: Sequence[str | None],
        mapping: dict[int, str],
        header_row: int | None,
        where: str,
        column_name: Callable[[int], str],
        default_currency: str,
    ) -> None:
        self.builder = builder
        self.sheet = sheet
        self.where = where
        self.default_currency = default_currency
        self.column_name = column_name
        self.keys = _unique_keys(headers, column_name)
        self.json_keys = [f"{encode_basestring(key)}: " for key in self.keys]
        named = [bool(header and header.strip()) for header in headers]
        self.unnamed = frozenset(i for i, is_named in enumerate(named) if not is_named)
        self.extras = [i for i in range(len(headers)) if i not in mapping]
        self.index = {name: index for index, name in mapping.items()}
        self.report = SheetReport(
            sheet=sheet,
            header_row=header_row,
            mapping={self.keys[index]: name for index, name in sorted(mapping.items())},
            extra_columns=[self.keys[i] for i in self.extras if i not in self.unnamed],
        )

    def _column(self, field: str) -> str:
        return f"{self.keys[self.index[field]]} ({field})"

    def add(
        self,
        row_number: int,
        texts: list[str | None],
        values: Sequence[object] | None = None,
        cell_issues: Sequence[str] = (),
    ) -> None:
        """Add one data row (``texts`` and ``cell_issues`` as in ``TableRecords.add``; ``values`` the native
        cells, whose dates and numbers are read as such). Blank rows are skipped."""
        if not any(texts) or not "".join(filter(None, texts)).strip():
            return
        builder = self.builder
        for index in range(len(self.keys), len(texts)):  # cells right of the header are kept too
            key = self.column_name(index)
            while key in self.keys:
                key = f"{key} ({index + 1})"
            self.keys.append(key)
            self.json_keys.append(f"{encode_basestring(key)}: ")
            self.extras.append(index)
            self.unnamed = self.unnamed | {index}
        if len(texts) < len(self.keys):
            texts = texts + [None] * (len(self.keys) - len(texts))
        raw_row = _json_object(self.json_keys, texts, skip_empty=self.unnamed)
        attributes = _json_object(self.json_keys, texts, only=self.extras) if self.extras else None
        texts.append(None)
        width = len(texts) - 1

        def text(field: str) -> str | None:
            index = self.index.get(field, -1)
            return texts[index] if index < width else None

        def native(field: str) -> object:
            index = self.index.get(field, -1)
            if index < 0 or index >= width:
                return None
            if values is not None and index < len(values) and values[index] not in ("", None):
                return values[index]
            return texts[index]

        problems: list[str] = []
        issues: list[str] = list(cell_issues)

        ordered_at = None
        raw_ordered_at = text("order_at")
        if raw_ordered_at is None or not raw_ordered_at.strip():
            problems.append(f"{self._column('order_at')}: empty")
        else:
            ordered_at, problem = parse_timestamp(native("order_at"), builder.local_tz)
            if problem:
                problems.append(f"{self._column('order_at')}: {problem}")

        raw_amount = text("amount")
        amount, written_currency = None, None
        if raw_amount is None or not raw_amount.strip():
            problems.append(f"{self._column('amount')}: empty")
        else:
            amount, written_currency, problem = parse_amount(native("amount"))
            if problem:
                problems.append(f"{self._column('amount')}: {problem}")

        raw_currency = text("currency") if "currency" in self.index else None
        currency = None
        if raw_currency is not None and raw_currency.strip():
            currency, problem = parse_currency(raw_currency)
            if problem:
                problems.append(f"{self._column('currency')}: {problem}")
            elif written_currency is not None and written_currency != currency:
                problems.append(
                    f"{self._column('currency')}: {currency} contradicts the amount {raw_amount!r} "
                    f"written in {written_currency}"
                )
        currency = currency or written_currency or self.default_currency

        raw_quantity = text("quantity") if "quantity" in self.index else None
        quantity = None
        if raw_quantity is not None:
            quantity, problem = parse_quantity(native("quantity"))
            if problem:
                issues.append(f"quantity: {problem}")

        raw_name, raw_email, raw_phone, raw_company = (
            text(field) if field in self.index else None for field in _BUYER_FIELDS
        )
        email = phone = phone_type = None
        if raw_email is not None:
            email, problem = normalize_email(raw_email)
            if problem:
                issues.append(f"email: {problem}")
        if raw_phone is not None:
            phone, phone_type, problem = normalize_phone(raw_phone, builder.region)
            if problem:
                issues.append(f"phone: {problem}")
        full_name = normalize_name(raw_name) if raw_name is not None else None
        if email is None and phone is None and full_name is None:
            problems.append("no way to tell the buyer (no valid email or phone, and no name)")

        order_id = _squeezed(text("order_id") if "order_id" in self.index else None)
        product = _squeezed(text("product") if "product" in self.index else None)

        report = self.report
        report.rows_read += 1
        rejection = None
        if problems:
            report.rows_rejected += 1
            rejection = f"{self.where}{row_number}: " + "; ".join(problems)
        record = {
            "_source": builder.source,
            "_source_file": builder.relative_file,
            "_source_sheet": self.sheet,
            "_source_row": row_number,
            "source_record_id": builder.row_key(self.sheet, row_number),
            "order_id": order_id,
            "ordered_at": ordered_at,
            "amount": amount,
            "currency": currency if amount is not None else None,
            "product": product,
            "quantity": quantity,
            "raw_ordered_at": raw_ordered_at,
            "raw_amount": raw_amount,
            "raw_currency": raw_currency,
            "raw_quantity": raw_quantity,
            "raw_name": raw_name,
            "raw_email": raw_email,
            "raw_phone": raw_phone,
            "raw_company": raw_company,
            "raw_row": raw_row,
            "attributes": attributes,
            "full_name": full_name,
            "email": email,
            "phone": phone,
            "phone_type": phone_type,
            "company": normalize_company(raw_company) if raw_company is not None else None,
            "field_issues": "; ".join(issues) if issues else None,
            "rejection_reason": rejection,
        }
        builder.append(tuple(record[name] for name in ORDER_RECORD_TUPLE))

    def add_unparseable(self, row_number: int, reason: str, raw_row: dict[str, object]) -> None:
        """Record a row that could not be split into cells, so it is visible and counted, never lost."""
        builder = self.builder
        self.report.rows_read += 1
        self.report.rows_rejected += 1
        record = dict.fromkeys(ORDER_RECORD_TUPLE)
        record.update(
            _source=builder.source,
            _source_file=builder.relative_file,
            _source_sheet=self.sheet,
            _source_row=row_number,
            source_record_id=builder.row_key(self.sheet, row_number),
            raw_row=json.dumps(raw_row, ensure_ascii=False),
            rejection_reason=f"{self.where}{row_number}: {reason}",
        )
        builder.append(tuple(record[name] for name in ORDER_RECORD_TUPLE))


def _squeezed(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text is not None else None
