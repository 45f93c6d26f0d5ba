"""Campaign files are checked before anything runs: every problem at once, naming file, campaign, field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestration.lib.campaigns import CampaignDefinitionError, load_campaigns, parse_wait
from orchestration.lib.paths import REPO_ROOT
from orchestration.lib.segments import load_segments
from tests.outreach.harness import SEGMENTS, campaign_definition


def write(folder: Path, name: str, definition: dict) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    return path


def problems(folder: Path, **options) -> list[str]:
    with pytest.raises(CampaignDefinitionError) as raised:
        load_campaigns(folder, SEGMENTS, **options)
    return raised.value.problems


def test_the_shipped_campaigns_are_valid_and_cover_every_trigger():
    segments = {s.name for s in load_segments(REPO_ROOT / "segments.yml")}
    campaigns = load_campaigns(REPO_ROOT / "campaigns", segments)
    assert {c.trigger.type for c in campaigns} == {"audience_entry", "date", "form_submission"}
    assert {c.purpose for c in campaigns} == {"marketing", "service"}
    reconfirmation = next(c for c in campaigns if c.name == "consent_reconfirmation")
    assert (reconfirmation.trigger.field, reconfirmation.trigger.every_years) == ("consent_email_at", 2)


def test_a_valid_campaign_loads_with_its_defaults(tmp_path):
    write(tmp_path, "welcome.yml", campaign_definition())
    [campaign] = load_campaigns(tmp_path, SEGMENTS)
    assert campaign.quiet_hours.enabled and (campaign.quiet_hours.start, campaign.quiet_hours.end) == (
        "21:00",
        "08:00",
    )
    assert campaign.frequency_cap is None  # off until configured
    assert [step.delay.days for step in campaign.steps] == [0, 3]


def test_every_problem_is_reported_at_once_naming_file_campaign_and_field(tmp_path):
    bad = campaign_definition(
        audience={"segments": ["first_time_buyers", "vip_customers"], "where": "account_size = 'small'"},
        sender={"name": "no address"},
        steps=[
            {
                "id": "welcome",
                "wait": "three days",
                "subject": "{{ nickname }}님",
                "html": "<p>{{ full_name }}</p>",
            },
            {"id": "welcome", "wait": "1d", "subject": "again", "html": "<p>{{ favourite_dish }}</p>"},
        ],
    )
    write(tmp_path, "bad.yml", bad)
    found = problems(tmp_path)
    text = "\n".join(found)
    label = f"{tmp_path / 'bad.yml'} (campaign 'welcome_first_buyers')"
    assert all(problem.startswith(label) for problem in found), found
    assert "steps.0.wait: 'three days' is not a wait" in text
    # the step with a bad wait is a pydantic problem, so the cross-field checks wait for it to be fixed
    assert len(found) == 1
    bad["steps"][0]["wait"] = "3d"
    write(tmp_path, "bad.yml", bad)
    text = "\n".join(problems(tmp_path))
    assert "audience.segments: unknown segment 'vip_customers'" in text
    assert "audience.where: unknown column 'account_size'" in text
    assert "sender.email: missing, and DRIPLINE_FROM_EMAIL is not set" in text
    assert "sender.address: a marketing email must carry the sender's postal address" in text
    assert "steps.0 (welcome): subject: unknown template variable(s) nickname" in text
    assert "steps.1 (welcome): id: duplicate step id 'welcome'" in text
    assert "steps.1 (welcome): html: unknown template variable(s) favourite_dish" in text


def test_the_sender_and_address_may_come_from_settings(tmp_path):
    write(tmp_path, "welcome.yml", campaign_definition(sender={}))
    assert load_campaigns(tmp_path, SEGMENTS, from_email="hi@catering.example", sender_address="서울시")


def test_duplicate_names_across_files_are_named(tmp_path):
    write(tmp_path, "a.yml", campaign_definition())
    write(tmp_path, "b.yml", campaign_definition())
    [problem] = problems(tmp_path)
    assert "b.yml" in problem and "duplicate campaign name, also in" in problem and "a.yml" in problem


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"purpose": "newsletter"}, "purpose: Input should be 'marketing' or 'service'"),
        ({"trigger": {"type": "date"}}, "a date trigger needs field"),
        (
            {"trigger": {"type": "date", "field": "wedding_day"}},
            "trigger.field: unknown customers column 'wedding_day'",
        ),
        (
            {"unsubscribe_group_id": None},
            "unsubscribe_group_id: a marketing email needs a SendGrid unsubscribe group",
        ),
        (
            {"audience": {"where": "segment = 'x'; drop table customers"}},
            "audience.where: must be one condition",
        ),
        ({"audience": {"where": "full_name"}}, "audience.where: must be one true-or-false condition"),
        ({"steps": []}, "steps: List should have at least 1 item"),
        ({"holdout_percent": 80}, "holdout_percent: Input should be less than or equal to 50"),
        ({"colour": "blue"}, "colour: unknown field"),
        (
            {"steps": [{"id": "a", "subject": "s", "html": "<p></p>", "template_id": "d-1"}]},
            "exactly one of html, template or template_id",
        ),
        ({"steps": [{"id": "a", "subject": "s", "template": "missing.html"}]}, "template: no file"),
        ({"steps": [{"id": "a", "subject": "{% if %}", "html": "x"}]}, "subject: template does not parse"),
    ],
)
def test_each_kind_of_mistake_is_named(tmp_path, change, expected):
    write(tmp_path, "c.yml", campaign_definition(**change))
    assert any(expected in problem for problem in problems(tmp_path)), problems(tmp_path)


def test_a_file_that_is_not_yaml_is_named(tmp_path):
    (tmp_path / "broken.yml").write_text("name: [unclosed\n", encoding="utf-8")
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 'broken.yml'}: not valid YAML")


@pytest.mark.parametrize(("text", "hours"), [("0d", 0), ("3d", 72), ("12h", 12), ("2w", 336), ("90m", 1.5)])
def test_waits(text, hours):
    assert parse_wait(text).total_seconds() == hours * 3600


def test_a_missing_folder_holds_no_campaigns(tmp_path):
    assert load_campaigns(tmp_path / "nowhere", SEGMENTS) == []


@pytest.mark.parametrize(
    ("cap", "expected"),
    [
        ("2/7d", (2, 7)),
        ("3 in 14 days", (3, 14)),
        ({"max": 1, "per_days": 2}, (1, 2)),
        ({"max_sends": 2, "days": 7}, (2, 7)),
    ],
)
def test_a_frequency_cap_in_its_short_and_long_forms(tmp_path, cap, expected):
    write(tmp_path, "c.yml", campaign_definition(frequency_cap=cap))
    [campaign] = load_campaigns(tmp_path, SEGMENTS)
    assert (campaign.frequency_cap.max_sends, campaign.frequency_cap.days) == expected


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [
        (False, (False, "21:00", "08:00")),
        ("22:00-07:30", (True, "22:00", "07:30")),
        ({"start": "20:00"}, (True, "20:00", "08:00")),
    ],
)
def test_quiet_hours_in_their_short_and_long_forms(tmp_path, quiet, expected):
    write(tmp_path, "c.yml", campaign_definition(quiet_hours=quiet))
    [campaign] = load_campaigns(tmp_path, SEGMENTS)
    assert (campaign.quiet_hours.enabled, campaign.quiet_hours.start, campaign.quiet_hours.end) == expected


def test_a_dry_run_rehearses_without_address_or_unsubscribe_group_but_real_sending_refuses(tmp_path):
    definition = campaign_definition(sender={"email": "hi@catering.example"})
    del definition["unsubscribe_group_id"]
    write(tmp_path, "c.yml", definition)
    [campaign] = load_campaigns(tmp_path, SEGMENTS, sending=False)
    assert campaign.unsubscribe_group_id is None
    text = "\n".join(problems(tmp_path, sending=True))
    assert "sender.address: a marketing email must carry the sender's postal address" in text
    assert "unsubscribe_group_id: a marketing email needs a SendGrid unsubscribe group" in text
    [campaign] = load_campaigns(tmp_path, SEGMENTS, sender_address="서울시", unsubscribe_group_id=7)
    assert campaign.unsubscribe_group_id == 7


def test_other_spellings_of_a_few_keys_are_accepted(tmp_path):
    definition = campaign_definition(
        asm_group_id=5,
        exit_conditions=["converted"],
        trigger={"type": "date", "date_field": "birthday", "days_before": 3},
    )
    del definition["unsubscribe_group_id"]
    write(tmp_path, "c.yml", definition)
    [campaign] = load_campaigns(tmp_path, SEGMENTS)
    assert (campaign.unsubscribe_group_id, campaign.exit_on, campaign.trigger.field) == (
        5,
        ["converted"],
        "birthday",
    )
