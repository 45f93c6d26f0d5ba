import pytest
from pydantic import ValidationError

from orchestration.lib.paths import DEFAULT_HOME
from orchestration.lib.settings import DriplineSettings


def test_defaults_point_at_the_demo_home(monkeypatch, tmp_path):
    monkeypatch.delenv("DRIPLINE_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = DriplineSettings()
    assert settings.home == DEFAULT_HOME.resolve()
    assert settings.is_demo_home
    assert settings.warehouse_path == DEFAULT_HOME.resolve() / "warehouse.duckdb"
    assert settings.default_region == "KR"


def test_environment_with_the_dripline_prefix_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("DRIPLINE_DEFAULT_REGION", "us")
    monkeypatch.setenv("DRIPLINE_HEADER_SYNONYMS", '{"phone": ["HP"]}')
    settings = DriplineSettings()
    assert settings.home == (tmp_path / "h").resolve()
    assert not settings.is_demo_home
    assert settings.inbox_dir == (tmp_path / "h" / "inbox").resolve()
    assert settings.default_region == "US"
    assert settings.header_synonyms == {"phone": ["HP"]}


def test_a_dotenv_file_in_the_working_directory_is_read(monkeypatch, tmp_path):
    monkeypatch.delenv("DRIPLINE_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DRIPLINE_HOME=from-dotenv\nDRIPLINE_INGEST_WORKERS=1\n")
    settings = DriplineSettings()
    assert settings.home == (tmp_path / "from-dotenv").resolve()
    assert settings.ingest_workers == 1


def test_header_synonyms_can_extend_the_birthday_field(monkeypatch):
    monkeypatch.setenv("DRIPLINE_HEADER_SYNONYMS", '{"birthday": ["태어난 날"]}')
    assert DriplineSettings().header_synonyms == {"birthday": ["태어난 날"]}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DRIPLINE_DEFAULT_REGION", "XX", "unknown phone region"),
        ("DRIPLINE_HEADER_SYNONYMS", '{"nickname": ["별명"]}', "unknown field"),
        ("DRIPLINE_INGEST_WORKERS", "0", "greater than or equal to 1"),
    ],
)
def test_bad_settings_fail_with_a_message_naming_the_problem(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        DriplineSettings()


def test_api_tokens_are_secret_and_form_ids_are_comma_separated(monkeypatch):
    monkeypatch.setenv("DRIPLINE_PIPEDRIVE_API_TOKEN", "pd-secret-token")
    monkeypatch.setenv("DRIPLINE_TYPEFORM_FORM_IDS", "abc123, def456,")
    settings = DriplineSettings()
    assert settings.pipedrive_api_token.get_secret_value() == "pd-secret-token"
    assert "pd-secret-token" not in repr(settings) and "pd-secret-token" not in str(settings.model_dump())
    assert settings.typeform_form_ids == ["abc123", "def456"]
    assert settings.hubspot_access_token is None
    assert settings.pipedrive_base_url == "https://api.pipedrive.com"


def test_receiver_settings_have_safe_defaults_and_keep_the_inbound_secret_secret(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("SENDGRID_WEBHOOK_PUBLIC_KEY", "INBOUND_SECRET", "RECEIVER_HOST", "RECEIVER_PORT"):
        monkeypatch.delenv(f"DRIPLINE_{name}", raising=False)
    settings = DriplineSettings()
    assert settings.receiver_host == "127.0.0.1" and settings.receiver_port == 8787
    assert settings.sendgrid_webhook_public_key is None and settings.inbound_secret is None
    assert settings.receiver_timestamp_tolerance_seconds == 300
    assert settings.receiver_max_event_bytes >= 768 * 1024
    assert settings.receiver_max_inbound_bytes >= 30 * 1024 * 1024

    monkeypatch.setenv("DRIPLINE_INBOUND_SECRET", "parse-password")
    monkeypatch.setenv("DRIPLINE_SENDGRID_WEBHOOK_PUBLIC_KEY", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
    monkeypatch.setenv("DRIPLINE_RECEIVER_PORT", "9000")
    settings = DriplineSettings()
    assert settings.inbound_secret.get_secret_value() == "parse-password"
    assert "parse-password" not in repr(settings) and "parse-password" not in str(settings.model_dump())
    assert settings.sendgrid_webhook_public_key.startswith("MFkw")
    assert settings.receiver_port == 9000


def test_the_duckdb_memory_limit_follows_the_machine_unless_set(monkeypatch, tmp_path):
    from orchestration.lib.settings import DUCKDB_MEMORY_FLOOR_MIB, machine_memory_mib

    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("DRIPLINE_DUCKDB_MEMORY_LIMIT", raising=False)
    settings = DriplineSettings()
    total = machine_memory_mib()
    assert total is not None and total > 0
    assert settings.effective_duckdb_memory_limit == f"{max(DUCKDB_MEMORY_FLOOR_MIB, total // 2)}MiB"
    monkeypatch.setenv("DRIPLINE_DUCKDB_MEMORY_LIMIT", "3GB")
    settings = DriplineSettings()
    assert settings.effective_duckdb_memory_limit == "3GB"
