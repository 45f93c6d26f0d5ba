"""Segment definitions: read segments.yml, check every rule before any model runs, hand them to dbt.

A rule is a SQL boolean expression over the columns of the dbt model ``int_customers__attributes`` listed
in ``ATTRIBUTE_COLUMNS``. dbt renders the rules, in priority order, into one ``case`` expression (macro
``segment_case``), so a rule that does not parse would only fail deep inside ``dbt build``: this module
binds every rule against an empty table of those columns in DuckDB first, and names the file, the segment
and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import yaml

# What a rule may refer to: the columns of int_customers__attributes, with their DuckDB types.
ATTRIBUTE_COLUMNS: dict[str, str] = {
    "lifecycle_stage": "VARCHAR",
    "is_vip": "BOOLEAN",
    "is_at_risk": "BOOLEAN",
    "account_tier": "VARCHAR",
    "company_size_employees": "INTEGER",
    "industry": "VARCHAR",
    "channel": "VARCHAR",
    "acquisition_source": "VARCHAR",
    "has_form_submission": "BOOLEAN",
    "purchase_count": "BIGINT",
    "total_value": "DOUBLE",
    "currency": "VARCHAR",
    "usual_interval_days": "DOUBLE",
    "days_since_last_purchase": "BIGINT",
    "days_since_last_activity": "BIGINT",
    "recency_score": "INTEGER",
    "frequency_score": "INTEGER",
    "monetary_score": "INTEGER",
    "rfm_score": "VARCHAR",
    "has_consented_email": "BOOLEAN",
    "has_phone": "BOOLEAN",
    "is_contactable": "BOOLEAN",
    "has_owner": "BOOLEAN",
}

FIELDS = ("name", "priority", "description", "rule", "channel", "offer")
MIN_SEGMENTS, MAX_SEGMENTS = 5, 10
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


class SegmentDefinitionError(ValueError):
    """segments.yml is not usable; the message lists every problem found."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: invalid segment definitions:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Segment:
    name: str
    priority: int
    description: str
    rule: str
    channel: str
    offer: str


def load_segments(path: Path) -> list[Segment]:
    """The segments of `path`, by priority; raises SegmentDefinitionError naming every problem."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SegmentDefinitionError(path, [f"cannot read the file: {error.strerror}"]) from error
    except yaml.YAMLError as error:
        raise SegmentDefinitionError(path, [f"not valid YAML: {error}"]) from error
    entries = document.get("segments") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SegmentDefinitionError(path, ["the file must hold a list under the key 'segments'"])

    problems: list[str] = []
    segments: list[Segment] = []
    for index, entry in enumerate(entries, start=1):
        segment, entry_problems = _parse_entry(index, entry)
        problems += entry_problems
        if segment:
            segments.append(segment)
    # Names, priorities and the catch-all are checked across every entry, valid rule or not.
    keyed = [
        (e["name"], e["priority"], _rule_text(e.get("rule")))
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("name"), str) and _is_priority(e.get("priority"))
    ]
    problems += _check_set(keyed, len(entries))
    if problems:
        raise SegmentDefinitionError(path, problems)
    return sorted(segments, key=lambda s: s.priority)


def _parse_entry(index: int, entry: object) -> tuple[Segment | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"segment #{index}: expected a mapping with {', '.join(FIELDS)}"]
    label = f"segment #{index} ({entry['name']!r})" if "name" in entry else f"segment #{index}"
    problems = []
    missing = [field for field in FIELDS if entry.get(field) in (None, "")]
    if missing:
        problems.append(f"{label}: missing {', '.join(missing)}")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        problems.append(f"{label}: unknown field(s) {', '.join(unknown)}; a segment has {', '.join(FIELDS)}")
    name = entry.get("name")
    if name is not None and not (isinstance(name, str) and NAME.fullmatch(name)):
        problems.append(
            f"{label}: the name must be lower-case letters, digits and underscores, starting with a letter"
        )
    priority = entry.get("priority")
    if priority is not None and not _is_priority(priority):
        problems.append(f"{label}: priority must be a whole number from 1 (1 is evaluated first)")
    raw_rule = entry.get("rule")
    rule = _rule_text(raw_rule)
    if raw_rule is not None and not isinstance(raw_rule, str | bool):
        problems.append(f"{label}: the rule must be text (a SQL condition)")
    elif rule.strip():
        problems += [f"{label}: {problem}" for problem in check_rule(rule)]
    if problems:
        return None, problems
    return Segment(
        name=name,
        priority=priority,
        description=str(entry["description"]).strip(),
        rule=rule.strip(),
        channel=str(entry["channel"]).strip(),
        offer=str(entry["offer"]).strip(),
    ), []


def _check_set(keyed: list[tuple[str, int, str]], count: int) -> list[str]:
    problems = []
    if not MIN_SEGMENTS <= count <= MAX_SEGMENTS:
        problems.append(f"{count} segments defined; define between {MIN_SEGMENTS} and {MAX_SEGMENTS}")
    for position, attribute in ((0, "name"), (1, "priority")):
        seen: dict[object, str] = {}
        for item in keyed:
            if item[position] in seen:
                problems.append(
                    f"segments {seen[item[position]]!r} and {item[0]!r} have the same {attribute}"
                )
            seen.setdefault(item[position], item[0])
    ordered = sorted(keyed, key=lambda item: item[1])
    if ordered and not _is_catch_all(ordered[-1][2]):
        problems.append(
            f"the last segment by priority ({ordered[-1][0]!r}) must have the rule true, so that every "
            "customer gets a segment"
        )
    for name, _, rule in ordered[:-1]:
        if _is_catch_all(rule):
            problems.append(
                f"segment {name!r}: the rule true matches everyone, so the segments after it would stay empty"
            )
    return problems


def _is_priority(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _rule_text(rule: object) -> str:
    """`rule: true` unquoted is YAML's boolean."""
    if isinstance(rule, bool):
        return "true" if rule else "false"
    return rule if isinstance(rule, str) else ""


def _is_catch_all(rule: str) -> bool:
    return rule.strip().lower() == "true"


def check_rule(rule: str) -> list[str]:
    """Problems with one rule: bound in DuckDB against an empty table of the attribute columns."""
    if ";" in rule:
        return ["the rule must be one condition; it contains ';'"]
    columns = ", ".join(f"{name} {kind}" for name, kind in ATTRIBUTE_COLUMNS.items())
    with duckdb.connect() as connection:
        connection.execute(f"create table int_customers__attributes ({columns})")
        try:
            # The rule stands on lines of its own, as dbt renders it: a trailing comment cannot swallow SQL.
            described = connection.execute(
                f"describe select (\n{rule}\n) as matched from int_customers__attributes"
            ).fetchall()
        except duckdb.ParserException as error:
            return [f"the rule does not parse: {_first_line(error)}"]
        except duckdb.BinderException as error:
            missing = re.search(r'column "([^"]+)" not found', str(error))
            if missing:
                return [
                    f"the rule refers to an unknown column {missing.group(1)!r}; "
                    f"rules can use {', '.join(ATTRIBUTE_COLUMNS)}"
                ]
            return [f"the rule is not valid: {_first_line(error)}"]
        except duckdb.Error as error:
            return [f"the rule is not valid: {_first_line(error)}"]
    if len(described) != 1:
        return ["the rule must be one condition, not a list"]
    if described[0][1] != "BOOLEAN":
        return [f"the rule must be true or false, but it gives a {described[0][1]}"]
    return []


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def dbt_segments_var(segments: list[Segment]) -> list[dict[str, Any]]:
    """What dbt needs of each segment (var `segments`): name, priority and rule."""
    return [{"name": s.name, "priority": s.priority, "rule": s.rule} for s in segments]


def resolve_as_of(as_of: datetime | None, local_timezone: str) -> datetime:
    """The segmentation time: DRIPLINE_AS_OF (a date or time without offset is local time), else now."""
    if as_of is None:
        return datetime.now(UTC).replace(microsecond=0)
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=ZoneInfo(local_timezone))
    return as_of


SEGMENT_TABLE_COLUMNS = ["segment", "customers", "share", "contactable", "consent"]
SEGMENT_VALUE_COLUMNS = ["segment", "avg value", "total value", "avg purchases"]


def segment_summary_metadata(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the segment_summary asset shows, by priority: who is in each segment and how many can be
    reached, then what they are worth, as two tables narrow enough for the asset page at 1600 px (one
    wide table pushes the metadata keys out of sight); and per segment its size and contactable share as
    numbers Dagster plots over runs.

    The UI sorts plots by key, two to a row: "1 vip accounts · contactable %" and "1 vip accounts ·
    customers" put each segment on one row, in priority order (zero-padded past 9)."""
    import dagster as dg

    from orchestration.lib import display

    def purchases(row: dict[str, Any]) -> str:
        average = row["average_purchase_count"]
        return display.MISSING if average is None else f"{average:.1f}"

    reach = [
        {
            "segment": display.name(row["segment"]),
            "customers": display.count(row["customer_count"]),
            "share": display.percent(row["customer_share"]),
            "contactable": display.percent(row["contactable_share"]),
            "consent": display.percent(row["consented_email_share"]),
        }
        for row in rows
    ]
    value = [
        {
            "segment": display.name(row["segment"]),
            "avg value": display.money(row["average_value"], row["currency"]),
            "total value": display.money(row["total_value"], row["currency"]),
            "avg purchases": purchases(row),
        }
        for row in rows
    ]
    metadata: dict[str, Any] = {
        "segments": display.text_table(reach, SEGMENT_TABLE_COLUMNS),
        "segment value": display.text_table(value, SEGMENT_VALUE_COLUMNS),
        "customers": dg.MetadataValue.int(sum(row["customer_count"] for row in rows)),
    }
    width = len(str(max((row["segment_priority"] for row in rows), default=0)))
    for row in rows:
        key = f"{row['segment_priority']:0{width}d} {row['segment'].replace('_', ' ')}"
        metadata[f"{key} · customers"] = dg.MetadataValue.int(row["customer_count"])
        # an empty segment has no share: a gap, so that every segment keeps its row of plots
        metadata[f"{key} · contactable %"] = display.plotted_percent(row["contactable_share"])
    metadata["dagster/row_count"] = dg.MetadataValue.int(len(rows))
    return metadata
