"""bot.config: settings from the environment, and errors that say how to fix them."""

from __future__ import annotations

import pytest

from bot.config import (
    LINE_API_DEFAULT,
    LINE_DATA_API_DEFAULT,
    STANDIN_PATH,
    ConfigError,
    load_config,
)

LINE = {"LINE_CHANNEL_SECRET": "s" * 32, "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40}
DURABLE = {**LINE, "REDIS_URL": "redis://localhost:6379/0", "BOT_ID_SECRET": "x" * 32,
           "BOT_CONSOLE_SECRET": "c" * 32, "BOT_DATA_KEY": "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE="}


def test_production_settings():
    config = load_config({**DURABLE, "PORT": "8080", "BOT_PROFILE": "hyogo"})
    assert (config.api_base_url, config.port, config.profile) == (LINE_API_DEFAULT, 8080, "hyogo")
    assert not config.local_line and not config.embedded_redis
    assert config.id_secret == b"x" * 32
    assert config.console_secret == b"c" * 32
    assert config.line_data_api_base_url == LINE_DATA_API_DEFAULT
    assert config.idle_alert_seconds == 600


def test_api_base_url_is_one_setting_for_every_call():
    config = load_config({**DURABLE, "LINE_API_BASE_URL": "http://127.0.0.1:9999/"})
    assert config.api_base_url == "http://127.0.0.1:9999"


def test_content_api_follows_a_stand_in_unless_set():
    """Tests and the local chat page point LINE_API_BASE_URL at a stand-in that also
    serves the content API; production's content API is a host of its own."""
    stand_in = load_config({**DURABLE, "LINE_API_BASE_URL": "http://127.0.0.1:9999"})
    assert stand_in.line_data_api_base_url == "http://127.0.0.1:9999"
    both = load_config({**DURABLE, "LINE_API_BASE_URL": "http://127.0.0.1:9999",
                        "LINE_DATA_API_BASE_URL": "http://127.0.0.1:7777/"})
    assert both.line_data_api_base_url == "http://127.0.0.1:7777"
    assert load_config({}).line_data_api_base_url == f"http://127.0.0.1:8000{STANDIN_PATH}"


def test_idle_alert_seconds():
    assert load_config({**DURABLE, "BOT_IDLE_ALERT_SECONDS": "90"}).idle_alert_seconds == 90


def test_console_secret_is_generated_without_redis():
    first, second = load_config({}), load_config({})
    assert len(first.console_secret) >= 32
    assert first.console_secret != second.console_secret, "random per process, never a constant"


def test_newcomer_defaults_are_announced():
    config = load_config({})
    assert config.local_line and config.embedded_redis
    assert config.api_base_url == f"http://127.0.0.1:8000{STANDIN_PATH}"
    said = " ".join(config.describe())
    assert "NOTHING IS DURABLE" in said and "local chat page" in said
    assert config.channel_secret and config.access_token, "the local page signs with its own secret"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"LINE_CHANNEL_SECRET": "s" * 32}, "LINE_CHANNEL_ACCESS_TOKEN is not set"),
        ({"LINE_CHANNEL_ACCESS_TOKEN": "t"}, "LINE_CHANNEL_SECRET is not set"),
        ({**LINE, "REDIS_URL": "redis://h/0"}, "BOT_ID_SECRET is not set"),
        ({**DURABLE, "BOT_ID_SECRET": "short"}, "BOT_ID_SECRET is too short"),
        ({**DURABLE, "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({**DURABLE, "LINE_API_BASE_URL": "ftp://x"}, "LINE_API_BASE_URL"),
        ({**DURABLE, "PORT": "eighty"}, "PORT='eighty' is not a whole number"),
        ({**DURABLE, "PORT": "70000"}, "out of range"),
        ({**LINE, "REDIS_URL": "redis://h/0", "BOT_ID_SECRET": "x" * 32}, "BOT_CONSOLE_SECRET is not set"),
        ({**DURABLE, "BOT_CONSOLE_SECRET": "short"}, "BOT_CONSOLE_SECRET is too short"),
        ({**DURABLE, "LINE_DATA_API_BASE_URL": "api-data.line.me"}, "LINE_DATA_API_BASE_URL"),
        ({**DURABLE, "BOT_IDLE_ALERT_SECONDS": "10"}, "BOT_IDLE_ALERT_SECONDS=10 is out of range 30..86400"),
        ({**DURABLE, "BOT_IDLE_ALERT_SECONDS": "10m"}, "BOT_IDLE_ALERT_SECONDS='10m' is not a whole number"),
    ],
)
def test_wrong_settings_are_named(env, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace("'", "'")):
        load_config(env)


def test_worker_needs_redis():
    with pytest.raises(ConfigError, match="python -m bot serve"):
        load_config(LINE, require_redis=True)


def test_secrets_never_in_the_description():
    config = load_config({**DURABLE, "REDIS_URL": "redis://:hunter2@db:6379/0"})
    said = " ".join(config.describe())
    assert "hunter2" not in said and "s" * 32 not in said and "t" * 40 not in said
    assert "c" * 32 not in said
