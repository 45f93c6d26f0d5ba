"""Campaign definitions: one reviewable YAML file per drip campaign in ``campaigns/``
(DRIPLINE_CAMPAIGNS_DIR).

Every file is checked before anything is sent or any run starts (``load_campaigns``): the shape with
pydantic, then what pydantic cannot know: segments that segments.yml does not define, an audience ``where``
that does not bind against the columns of ``customers``, template variables a customer row does not have,
a missing sender or postal address, duplicate campaign names and step ids. Every problem is reported at
once, each naming its file, campaign and field. ``docs/campaigns.md`` describes the format.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import duckdb
import jinja2
import jinja2.meta
import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestration.lib.paths import DBT_PROJECT_DIR

if TYPE_CHECKING:
    from orchestration.lib.settings import DriplineSettings

CAMPAIGN_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
STEP_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")
WAIT = re.compile(r"(\d+)\s*([mhdw])")
WAIT_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
FREQUENCY = re.compile(r"(\d+)\s*(?:/|in|per)\s*(\d+)\s*d(?:ays?)?")
EXIT_CONDITIONS = ("replied", "converted", "unsubscribed", "bounced", "left_audience")
CUSTOMERS_YML = DBT_PROJECT_DIR / "models" / "marts" / "customers.yml"


class CampaignDefinitionError(ValueError):
    """The campaign files are not usable; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid campaign definitions:\n" + "\n".join(f"  - {p}" for p in problems))


def parse_wait(value: str) -> timedelta:
    """``0d``, ``3d``, ``12h``, ``30m``, ``2w``."""
    match = WAIT.fullmatch(value.strip().lower())
    if not match:
        raise ValueError(f"{value!r} is not a wait such as 0d, 3d, 12h, 30m or 2w")
    return timedelta(**{WAIT_UNITS[match.group(2)]: int(match.group(1))})


def parse_clock(value: str) -> time:
    match = CLOCK.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day such as 21:00")
    return time(int(match.group(1)), int(match.group(2)))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Audience(_Strict):
    segments: list[str] = Field(default_factory=list, description="Names from segments.yml; any of them.")
    where: str | None = Field(default=None, description="A SQL condition over the columns of customers.")


class Trigger(_Strict):
    type: Literal["audience_entry", "date", "form_submission"]
    # audience_entry, form_submission: enrol who is already in the audience (or submitted within
    # lookback_days) on the campaign's first run, not only those who arrive later.
    enroll_existing: bool = False
    # date: the customers column whose anniversary triggers (birthday, first_purchase_at, consent_email_at)
    field: str | None = Field(default=None, validation_alias=AliasChoices("field", "date_field", "column"))
    days_before: int = Field(default=0, ge=0, le=60)
    every_years: int = Field(default=1, ge=1, le=10)
    # form_submission: the sources whose new records count as a submission.
    sources: list[str] = Field(default_factory=lambda: ["forms", "typeform"])
    lookback_days: int = Field(default=7, ge=0)

    @model_validator(mode="after")
    def _date_needs_field(self) -> Trigger:
        if self.type == "date" and not self.field:
            raise ValueError(
                "a date trigger needs field: the customers column it counts from (e.g. birthday)"
            )
        if self.type != "date" and self.field:
            raise ValueError(f"field is for date triggers, not {self.type}")
        return self


class Sender(_Strict):
    email: str | None = Field(default=None, validation_alias=AliasChoices("email", "from_email"))
    name: str | None = Field(default=None, validation_alias=AliasChoices("name", "from_name"))
    address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("address", "postal_address"),
        description="Postal address printed in the footer.",
    )


class FrequencyCap(_Strict):
    """At most ``max_sends`` marketing emails to a customer in ``days`` days; also written "2/7d"."""

    max_sends: int = Field(ge=1, validation_alias=AliasChoices("max_sends", "max", "limit"))
    days: int = Field(ge=1, validation_alias=AliasChoices("days", "per_days", "window_days", "within_days"))

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = FREQUENCY.fullmatch(value.strip().lower())
            if not match:
                raise ValueError(f"{value!r} is not a frequency cap such as 2/7d ({{max_sends: 2, days: 7}})")
            return {"max_sends": int(match.group(1)), "days": int(match.group(2))}
        return value


class QuietHours(_Strict):
    """No send between start and end, local time; ``false`` turns them off, "21:00-08:00" sets both."""

    enabled: bool = True
    start: str = "21:00"
    end: str = "08:00"

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"enabled": value}
        if isinstance(value, str):
            start, _, end = value.partition("-")
            return {"start": start.strip(), "end": end.strip()}
        return value

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value


class Step(_Strict):
    id: str
    wait: str = "0d"
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    template: str | None = Field(default=None, description="A Jinja2 HTML file beside the campaign file.")
    template_id: str | None = Field(default=None, description="A SendGrid dynamic template, d-...")
    template_data: list[str] = Field(
        default_factory=lambda: ["full_name"], description="customers columns sent to a dynamic template."
    )

    @field_validator("id")
    @classmethod
    def _step_id(cls, value: str) -> str:
        if not STEP_ID.fullmatch(value):
            raise ValueError(
                "a step id is lower-case letters, digits and underscores, starting with a letter"
            )
        return value

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: str) -> str:
        parse_wait(value)
        return value

    @field_validator("template_id")
    @classmethod
    def _dynamic(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("d-"):
            raise ValueError("template_id must be a SendGrid dynamic template id, starting with d-")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> Step:
        bodies = [name for name in ("html", "template", "template_id") if getattr(self, name)]
        if len(bodies) != 1:
            raise ValueError(
                f"a step needs exactly one of html, template or template_id (has {bodies or 'none'})"
            )
        if not self.template_id and not self.subject:
            raise ValueError("a step needs a subject (only a dynamic template brings its own)")
        return self

    @property
    def delay(self) -> timedelta:
        return parse_wait(self.wait)


class Campaign(_Strict):
    name: str
    description: str
    purpose: Literal["marketing", "service"]
    audience: Audience
    trigger: Trigger
    holdout_percent: float = Field(default=0, ge=0, le=50)
    steps: Annotated[list[Step], Field(min_length=1)]
    sender: Sender = Field(default_factory=Sender)
    reply_to: str | None = Field(default=None, description="Replies go to local+<send_id>@domain.")
    categories: list[str] = Field(default_factory=list, max_length=9)
    unsubscribe_group_id: int | None = Field(
        default=None,
        validation_alias=AliasChoices("unsubscribe_group_id", "asm_group_id", "unsubscribe_group"),
        description="SendGrid ASM group id; default DRIPLINE_SENDGRID_UNSUBSCRIBE_GROUP_ID.",
    )
    exit_on: list[Literal["replied", "converted", "unsubscribed", "bounced", "left_audience"]] = Field(
        default_factory=lambda: ["replied", "unsubscribed", "bounced", "left_audience"],
        validation_alias=AliasChoices("exit_on", "exit_conditions", "exits"),
    )
    frequency_cap: FrequencyCap | None = None
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    # A purchase or form submission this many days after a mail counts as its conversion (campaign_metrics,
    # campaign_lift).
    attribution_days: int = Field(default=7, ge=1, le=90)
    enabled: bool = True

    # Set by load_campaigns: where the definition came from, for messages and template files.
    source_file: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not CAMPAIGN_NAME.fullmatch(value):
            raise ValueError("a name is lower-case letters, digits and underscores, starting with a letter")
        return value

    @property
    def is_marketing(self) -> bool:
        return self.purpose == "marketing"

    def step_index(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step.id == step_id)

    def template_source(self, step: Step) -> str:
        """The HTML source of a step: inline, or the template file beside the campaign file."""
        if step.html is not None:
            return step.html
        if step.template is not None and self.source_file is not None:
            return (self.source_file.parent / step.template).read_text(encoding="utf-8")
        return ""


@cache
def customer_columns() -> dict[str, str]:
    """The columns of the customers mart and their types, from its enforced contract (customers.yml)."""
    document = yaml.safe_load(CUSTOMERS_YML.read_text(encoding="utf-8"))
    model = next(m for m in document["models"] if m["name"] == "customers")
    return {column["name"]: column["data_type"] for column in model["columns"]}


def template_environment(autoescape: bool) -> jinja2.Environment:
    """Jinja2 as the send path renders: undefined variables fail, None renders as nothing."""
    return jinja2.Environment(
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=lambda value: "" if value is None else value,
        keep_trailing_newline=False,
    )


def template_variables(source: str) -> set[str]:
    return jinja2.meta.find_undeclared_variables(template_environment(False).parse(source))


def check_where(where: str, columns: dict[str, str]) -> str | None:
    """A problem with an audience condition, bound in DuckDB against an empty customers table."""
    if ";" in where:
        return "must be one condition; it contains ';'"
    with duckdb.connect() as connection:
        connection.execute(
            "create table customers (" + ", ".join(f'"{name}" {kind}' for name, kind in columns.items()) + ")"
        )
        try:
            described = connection.execute(
                f"describe select (\n{where}\n) as matched from customers"
            ).fetchall()
        except duckdb.Error as error:
            missing = re.search(r'column "([^"]+)" not found', str(error))
            if missing:
                return f"unknown column {missing.group(1)!r}; customers has {', '.join(columns)}"
            return f"not a valid condition: {str(error).strip().splitlines()[0]}"
    if len(described) != 1 or described[0][1] != "BOOLEAN":
        return "must be one true-or-false condition"
    return None


def _pydantic_problems(label: str, error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(file)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "missing"
        problems.append(f"{label}: {where}: {message}")
    return problems


def _semantic_problems(
    label: str,
    campaign: Campaign,
    segment_names: set[str],
    from_email: str | None,
) -> list[str]:
    problems = []
    columns = customer_columns()
    for name in campaign.audience.segments:
        if name not in segment_names:
            problems.append(
                f"{label}: audience.segments: unknown segment {name!r}; segments.yml has "
                + ", ".join(sorted(segment_names))
            )
    if campaign.audience.where:
        problem = check_where(campaign.audience.where, columns)
        if problem:
            problems.append(f"{label}: audience.where: {problem}")
    if campaign.trigger.field and campaign.trigger.field not in columns:
        problems.append(f"{label}: trigger.field: unknown customers column {campaign.trigger.field!r}")
    if not (campaign.sender.email or from_email):
        problems.append(f"{label}: sender.email: missing, and DRIPLINE_FROM_EMAIL is not set")
    seen_steps: set[str] = set()
    for index, step in enumerate(campaign.steps):
        where = f"{label}: steps.{index} ({step.id})"
        if step.id in seen_steps:
            problems.append(f"{where}: id: duplicate step id {step.id!r}")
        seen_steps.add(step.id)
        if step.template and campaign.source_file is not None:
            path = campaign.source_file.parent / step.template
            if not path.is_file():
                problems.append(f"{where}: template: no file {path}")
                continue
        for field_name, source in (
            ("subject", step.subject),
            ("html" if step.html is not None else "template", campaign.template_source(step)),
            ("text", step.text),
        ):
            if not source:
                continue
            try:
                unknown = sorted(template_variables(source) - set(columns))
            except jinja2.TemplateSyntaxError as error:
                problems.append(
                    f"{where}: {field_name}: template does not parse (line {error.lineno}): {error}"
                )
                continue
            if unknown:
                problems.append(
                    f"{where}: {field_name}: unknown template variable(s) {', '.join(unknown)}; "
                    "a customer row has " + ", ".join(columns)
                )
        unknown_data = sorted(set(step.template_data) - set(columns))
        if step.template_id and unknown_data:
            problems.append(f"{where}: template_data: unknown customers column(s) {', '.join(unknown_data)}")
    return problems


def compliance_problems(label: str, campaign: Campaign, sender_address: str | None) -> list[str]:
    """What the law asks of a marketing email that the file leaves out: it stops real sends, not dry runs."""
    problems = []
    if campaign.is_marketing and not (campaign.sender.address or sender_address):
        problems.append(
            f"{label}: sender.address: a marketing email must carry the sender's postal address; set it here "
            "or in DRIPLINE_SENDER_ADDRESS"
        )
    if campaign.is_marketing and campaign.unsubscribe_group_id is None:
        problems.append(
            f"{label}: unsubscribe_group_id: a marketing email needs a SendGrid unsubscribe group (ASM) for "
            "its one-click unsubscribe; set it here or in DRIPLINE_SENDGRID_UNSUBSCRIBE_GROUP_ID"
        )
    return problems


def load_campaigns(
    directory: Path,
    segment_names: set[str],
    from_email: str | None = None,
    sender_address: str | None = None,
    unsubscribe_group_id: int | None = None,
    sending: bool = True,
) -> list[Campaign]:
    """Every campaign of ``directory`` (``*.yml``/``*.yaml``), by name; raises CampaignDefinitionError
    naming every problem. A missing directory holds no campaigns. ``sending``: real mail will go out, so the
    postal address and unsubscribe group the law asks of marketing email are required too (a dry run
    rehearses without them)."""
    if not directory.is_dir():
        return []
    problems: list[str] = []
    campaigns: list[Campaign] = []
    names: dict[str, Path] = {}
    files = sorted(
        p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and not p.name.startswith(".")
    )
    for path in files:
        try:
            document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot read the file: {error}")
            continue
        except yaml.YAMLError as error:
            problems.append(f"{path}: not valid YAML: {error}")
            continue
        if not isinstance(document, dict):
            problems.append(
                f"{path}: a campaign file holds one mapping (name, purpose, audience, trigger, steps)"
            )
            continue
        label = f"{path} (campaign {document.get('name')!r})" if "name" in document else str(path)
        try:
            campaign = Campaign.model_validate({**document, "source_file": path})
        except ValidationError as error:
            problems += _pydantic_problems(label, error)
            continue
        if campaign.name in names:
            problems.append(f"{label}: name: duplicate campaign name, also in {names[campaign.name]}")
            continue
        names[campaign.name] = path
        if campaign.unsubscribe_group_id is None and unsubscribe_group_id is not None:
            campaign = campaign.model_copy(update={"unsubscribe_group_id": unsubscribe_group_id})
        problems += _semantic_problems(label, campaign, segment_names, from_email)
        if sending:
            problems += compliance_problems(label, campaign, sender_address)
        campaigns.append(campaign)
    if problems:
        raise CampaignDefinitionError(problems)
    return sorted(campaigns, key=lambda c: c.name)


def configured_campaigns(settings: DriplineSettings) -> list[Campaign]:
    """The campaigns of DRIPLINE_CAMPAIGNS_DIR checked against segments.yml and the send settings: what every
    entry point (dripline run, the code location, each campaign asset) loads."""
    from orchestration.lib.segments import load_segments

    segments = {segment.name for segment in load_segments(settings.segments_file)}
    return load_campaigns(
        settings.campaigns_dir,
        segments,
        from_email=settings.from_email,
        sender_address=settings.sender_address,
        unsubscribe_group_id=settings.sendgrid_unsubscribe_group_id,
        sending=settings.effective_send_mode != "dry_run",
    )
