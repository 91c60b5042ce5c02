"""alias-env, environments, log-in, log-out, unalias-env, env and curl against a real
director over TLS, with a config file of the test's own."""

from __future__ import annotations

import io
import json
import stat
import sys
from pathlib import Path

import pytest

from bosh_cli.config import CLIConfig, Credentials
from tests.cli.conftest import BoshRun, RunBosh
from tests.core.client.conftest import ADMIN, Served, served  # noqa: F401 (fixture)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".bosh" / "config"


@pytest.fixture
def aliased(bosh: RunBosh, served: Served, config_path: Path) -> str:  # noqa: F811
    """``bosh alias-env local -e URL --ca-cert PATH`` done; the alias."""
    run = bosh("alias-env", "local", "-e", served.url, "--ca-cert", served.ca,
               "--config", config_path, "--tty")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    return "local"


@pytest.fixture
def logged_in(aliased: str, config_path: Path) -> str:
    CLIConfig.load(config_path).with_credentials(aliased, Credentials(*ADMIN)).save()
    return aliased


def in_env(bosh: RunBosh, config_path: Path, *args: str | Path) -> BoshRun:
    return bosh(*args, "-e", "local", "--config", config_path, "--tty")


def test_alias_env_saves_url_and_ca_and_shows_the_director(
    bosh: RunBosh,
    served: Served,  # noqa: F811
    config_path: Path,
) -> None:
    run = bosh("alias-env", "local", "-e", served.url, "--ca-cert", served.ca,
               "--config", config_path, "--tty")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(f"Using environment '{served.url}' as anonymous user\n")
    assert "Name      test-director" in run.stdout
    assert "User      (not logged in)" in run.stdout
    entry = CLIConfig.load(config_path).environments[0]
    assert (entry.url, entry.alias) == (served.url, "local")
    assert entry.ca_cert == served.ca.read_text()  # the PEM itself, not the path
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600

    listed = bosh("environments", "--config", config_path, "--json")
    table = json.loads(listed.stdout)["Tables"][0]
    assert table["Rows"] == [{"url": served.url, "alias": "local"}]
    assert "1 environments" in bosh("envs", "--config", config_path, "--tty").stdout


def test_alias_env_to_an_unreachable_director_saves_nothing(
    bosh: RunBosh, config_path: Path
) -> None:
    run = bosh("alias-env", "gone", "-e", "https://127.0.0.1:1", "--config", config_path)
    assert run.exit_code == 1
    assert "Performing request GET 'https://127.0.0.1:1/info'" in run.stderr
    assert not config_path.exists()


def test_log_in_with_flags_then_commands_use_the_saved_user(
    bosh: RunBosh,
    aliased: str,
    config_path: Path,
) -> None:
    run = in_env(bosh, config_path, "log-in", "--client", ADMIN[0], "--client-secret", ADMIN[1])
    assert run.exit_code == 0, run.stderr
    url = CLIConfig.load(config_path).resolve(aliased)
    assert run.stdout.split("\n\n")[:3] == [
        f"Using environment '{url}'",
        f"Using environment '{url}' as client 'admin'",
        f"Logged in to '{url}'",
    ]
    assert ADMIN[1] not in run.stdout + run.stderr
    assert CLIConfig.load(config_path).credentials(aliased) == Credentials(*ADMIN)

    env = in_env(bosh, config_path, "env")
    assert f"Using environment '{url}' as client 'admin'" in env.stdout
    assert "User      admin" in env.stdout

    out = in_env(bosh, config_path, "log-out")
    assert out.exit_code == 0
    assert f"Logged out from '{url}'" in out.stdout
    assert CLIConfig.load(config_path).credentials(aliased) == Credentials()
    after = in_env(bosh, config_path, "tasks")
    assert after.exit_code == 1 and "Not logged in" in after.stderr


def test_log_in_asks_for_what_is_missing(
    bosh: RunBosh,
    aliased: str,
    config_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN[0]}\n{ADMIN[1]}\n"))
    run = in_env(bosh, config_path, "l")
    assert run.exit_code == 0, run.stderr
    # Piped answers are repeated after their prompt (a password as an empty line), as
    # the reference prints them.
    assert f"Username (): {ADMIN[0]}\nPassword (): \n" in run.stdout
    assert ADMIN[1] not in run.stdout
    assert CLIConfig.load(config_path).credentials(aliased) == Credentials(*ADMIN)


def test_wrong_password_asks_again_when_it_was_asked(
    bosh: RunBosh,
    aliased: str,
    config_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"wrong-pw\n{ADMIN[1]}\n"))
    run = in_env(bosh, config_path, "login", "--client", "admin")
    assert run.exit_code == 0, run.stderr
    assert "Failed to login to 'https://127.0.0.1:" in run.stderr
    assert "Logged in to" in run.stdout
    assert CLIConfig.load(config_path).credentials(aliased) == Credentials(*ADMIN)


def test_wrong_given_password_is_invalid_credentials_and_saves_nothing(
    bosh: RunBosh,
    aliased: str,
    config_path: Path,
) -> None:
    before = config_path.read_text()
    run = in_env(bosh, config_path, "log-in", "--client", "admin", "--client-secret", "wr0ng-pw")
    assert run.exit_code == 1
    assert "Failed to login to 'https://127.0.0.1:" in run.stderr
    assert "Invalid credentials" in run.stderr
    assert "wr0ng-pw" not in run.stdout + run.stderr
    assert config_path.read_text() == before


def test_non_interactive_log_in_without_credentials_says_what_to_give(
    bosh: RunBosh,
    aliased: str,
    config_path: Path,
) -> None:
    run = in_env(bosh, config_path, "log-in", "-n")
    assert run.exit_code == 1
    assert "Expected a username and password to log in to 'https://127.0.0.1:" in run.stderr
    assert "--client and --client-secret" in run.stderr


def test_bosh_environment_may_be_an_alias(
    bosh: RunBosh,
    aliased: str,
    config_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    CLIConfig.load(config_path).with_credentials(aliased, Credentials(*ADMIN)).save()
    monkeypatch.setenv("BOSH_ENVIRONMENT", aliased)
    monkeypatch.setenv("BOSH_CONFIG", str(config_path))
    run = bosh("locks", "--tty")
    assert run.exit_code == 0, run.stderr
    assert "as client 'admin'" in run.stdout and "0 locks" in run.stdout


def test_unalias_env(bosh: RunBosh, aliased: str, config_path: Path) -> None:
    assert bosh("unalias-env", aliased, "--config", config_path).exit_code == 0
    assert CLIConfig.load(config_path).environments == ()
    again = bosh("unalias-env", aliased, "--config", config_path)
    assert again.exit_code == 1 and f"alias {aliased} not found" in again.stderr


def test_env_details_lists_the_certificates_expiry(
    bosh: RunBosh,
    logged_in: str,
    config_path: Path,
) -> None:
    run = in_env(bosh, config_path, "env", "--details")
    assert run.exit_code == 0, run.stderr
    assert "Name      test-director" in run.stdout  # the summary comes first, as in the reference
    assert "CERTIFICATE EXPIRY DATE INFORMATION" in run.stdout
    assert "tls.cert" in run.stdout


def test_a_broken_config_file_is_named(bosh: RunBosh, served: Served, config_path: Path) -> None:  # noqa: F811
    config_path.parent.mkdir(parents=True)
    config_path.write_text("environments: [\n")
    run = bosh("tasks", "-e", served.url, "--config", config_path)
    assert run.exit_code == 1
    assert f"Invalid YAML in CLI config '{config_path}'" in run.stderr


# --- curl ----------------------------------------------------------------------------------


def test_curl_get_prints_the_body_and_headers(
    bosh: RunBosh, logged_in: str, config_path: Path
) -> None:
    run = in_env(bosh, config_path, "curl", "/info")
    assert run.exit_code == 0, run.stderr
    body = run.stdout.split("\n\n")[1]
    assert body.endswith("}\nSucceeded\n")  # the body as it came, no newline added
    assert json.loads(body.removesuffix("\nSucceeded\n"))["user"] == "admin"
    shown = in_env(bosh, config_path, "curl", "-i", "/tasks?limit=1")
    assert "HTTP/1.1 200 OK\r\n" in shown.stdout
    assert "Content-Type: application/json" in shown.stdout


def test_curl_failure_prints_the_body_then_fails(
    bosh: RunBosh, aliased: str, config_path: Path
) -> None:
    run = in_env(bosh, config_path, "curl", "/tasks")
    assert run.exit_code == 1
    assert "Not authorized: '/tasks'" in run.stdout
    assert "Director responded with non-successful status code '401'" in run.stderr


def test_curl_post_with_headers_and_body_and_delete(
    bosh: RunBosh,
    served: Served,  # noqa: F811
    logged_in: str,
    config_path: Path,
    tmp_path: Path,
) -> None:
    body = tmp_path / "event.json"
    body.write_text('{"action": "poke", "object_type": "thing", "object_name": "curl-made"}')
    post: list[str | Path] = ["curl", "-X", "POST", "--body", body, "/events"]
    # Content types are part of the director's routing: the header must be sent.
    wrong = in_env(bosh, config_path, *post, "-H", "Content-Type: text/plain")
    assert wrong.exit_code == 1 and "'404'" in wrong.stderr
    right = in_env(bosh, config_path, *post, "-H", "Content-Type: application/json")
    assert right.exit_code == 0, right.stderr
    listed = in_env(bosh, config_path, "events", "--object-name", "curl-made", "--json")
    assert json.loads(listed.stdout)["Tables"][0]["Rows"][0]["action"] == "poke"

    task_id, _ = served.add_task(state="queued")
    deleted = in_env(bosh, config_path, "curl", "-X", "DELETE", f"/task/{task_id}")
    assert deleted.exit_code == 0, deleted.stderr
    running = json.loads(in_env(bosh, config_path, "tasks", "--json").stdout)["Tables"][0]
    assert running["Rows"][0]["state"] == "cancelling"


def test_curl_refuses_what_the_reference_refuses(
    bosh: RunBosh, logged_in: str, config_path: Path
) -> None:
    bad_header = in_env(bosh, config_path, "curl", "-H", "NoColon", "/info")
    assert bad_header.exit_code == 1
    assert "Expected header 'NoColon' to be in format 'name: value'" in bad_header.stderr
    delete_headers = in_env(bosh, config_path, "curl", "-X", "DELETE", "-H", "A: b", "/x")
    assert "Expected no headers" in delete_headers.stderr
    patch = in_env(bosh, config_path, "curl", "-X", "PATCH", "/info")
    assert "Unknown method 'PATCH'" in patch.stderr
