"""The `secondhand` command line, through click's CliRunner and once as a real process."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys

import pytest
from allauth.account.models import EmailAddress
from click.testing import CliRunner

from secondhand_site import __version__
from secondhand_site.cli import cli
from secondhand_site.models import User

STRONG = "owner-secret-pass-2026"


@pytest.fixture
def invoke(tmp_path):
    runner = CliRunner()

    def run(*args: str, **kwargs):
        return runner.invoke(cli, ["--data-dir", str(tmp_path / "data"), *args], **kwargs)

    return run


@pytest.fixture
def started(monkeypatch, settings, tmp_path):
    """Record the server start instead of starting one."""
    settings.STATIC_ROOT = tmp_path / "static"
    calls: list[dict] = []
    monkeypatch.setattr("secondhand_site.server.run", lambda **kw: calls.append(kw))
    return calls


def failed_cleanly(result) -> bool:
    """A clear error: click's own exit, not an exception escaping with a traceback."""
    return result.exit_code != 0 and isinstance(result.exception, SystemExit)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_prints_its_version(invoke):
    result = invoke("--version")

    assert result.exit_code == 0
    assert __version__ in result.output


def test_every_command_is_listed_in_help(invoke):
    result = invoke("--help")

    assert result.exit_code == 0
    for command in ("serve", "create-owner", "seed", "check", "manage"):
        assert command in result.output


def test_a_data_dir_given_on_the_command_line_beats_the_environment(invoke, tmp_path):
    from_env = tmp_path / "from-env"

    result = invoke("check", env={"SECONDHAND_DATA_DIR": str(from_env)})

    assert result.exit_code == 0, result.output
    assert (tmp_path / "data").is_dir()
    assert not from_env.exists()


def test_the_data_dir_after_the_command_name_wins(invoke, tmp_path):
    result = invoke("check", "--data-dir", str(tmp_path / "later"))

    assert result.exit_code == 0, result.output
    assert (tmp_path / "later").is_dir()
    assert not (tmp_path / "data").exists()


# --- create-owner -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_create_owner_makes_a_verified_owner_and_never_prints_the_password(invoke):
    result = invoke("create-owner", "--email", "Olga@Example.com", "--password", STRONG)

    assert result.exit_code == 0, result.output
    assert "olga@example.com" in result.output
    assert STRONG not in result.output
    user = User.objects.get(email="olga@example.com")
    assert user.is_owner
    assert user.is_active
    assert user.check_password(STRONG)
    address = EmailAddress.objects.get(user=user)
    assert address.verified
    assert address.primary


@pytest.mark.django_db(transaction=True)
def test_create_owner_is_safe_to_run_twice(invoke):
    first = invoke("create-owner", "--email", "olga@example.com", "--password", STRONG)
    second = invoke("create-owner", "--email", "olga@example.com", "--password", STRONG)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert User.objects.filter(email="olga@example.com").count() == 1
    assert EmailAddress.objects.filter(email="olga@example.com").count() == 1
    assert User.objects.get(email="olga@example.com").check_password(STRONG)


@pytest.mark.django_db(transaction=True)
def test_create_owner_promotes_an_existing_member_and_keeps_their_password(
        invoke, alice, password):
    assert not alice.is_owner

    result = invoke("create-owner", "--email", "alice@example.com")

    assert result.exit_code == 0, result.output
    assert "owner now" in result.output
    alice.refresh_from_db()
    assert alice.is_owner
    assert alice.check_password(password)
    assert User.objects.filter(email="alice@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_create_owner_without_a_password_and_no_terminal_stops_clearly(invoke, monkeypatch):
    monkeypatch.delenv("SECONDHAND_OWNER_PASSWORD", raising=False)
    monkeypatch.setattr("secondhand_site.cli._can_prompt", lambda: False)

    result = invoke("create-owner", "--email", "olga@example.com")

    assert failed_cleanly(result)
    assert "No password given" in result.output
    assert not User.objects.filter(email="olga@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_create_owner_asks_for_the_password_in_a_terminal(invoke, monkeypatch):
    monkeypatch.delenv("SECONDHAND_OWNER_PASSWORD", raising=False)
    monkeypatch.setattr("secondhand_site.cli._can_prompt", lambda: True)

    result = invoke("create-owner", "--email", "olga@example.com", input=f"{STRONG}\n{STRONG}\n")

    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    assert STRONG not in result.output
    assert User.objects.get(email="olga@example.com").check_password(STRONG)


@pytest.mark.django_db(transaction=True)
def test_create_owner_refuses_a_weak_password(invoke):
    result = invoke("create-owner", "--email", "olga@example.com", "--password", "password")

    assert failed_cleanly(result)
    assert "too common" in result.output
    assert not User.objects.filter(email="olga@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_create_owner_refuses_an_invalid_email(invoke):
    result = invoke("create-owner", "--email", "not-an-address", "--password", STRONG)

    assert failed_cleanly(result)
    assert "not a valid email address" in result.output
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_create_owner_refuses_an_address_another_member_already_uses(invoke, alice):
    EmailAddress.objects.create(user=alice, email="shared@example.com", verified=True)

    result = invoke("create-owner", "--email", "shared@example.com", "--password", STRONG)

    assert failed_cleanly(result)
    assert "shared@example.com is already used by another account" in result.output
    assert not User.objects.filter(email="shared@example.com").exists()
    alice.refresh_from_db()
    assert not alice.is_owner


@pytest.mark.django_db(transaction=True)
def test_create_owner_takes_the_password_from_the_environment(invoke):
    result = invoke("create-owner", "--email", "olga@example.com",
                    env={"SECONDHAND_OWNER_PASSWORD": STRONG})

    assert result.exit_code == 0, result.output
    assert STRONG not in result.output
    assert User.objects.get(email="olga@example.com").check_password(STRONG)


# --- check ---------------------------------------------------------------------------------


def test_check_passes(invoke):
    result = invoke("check")

    assert result.exit_code == 0, result.output
    assert "no issues" in result.output


def test_check_deploy_finds_nothing_in_a_production_set_up(tmp_path, fresh_env):
    env = fresh_env(
        SECRET_KEY=secrets.token_urlsafe(64),
        SECONDHAND_ALLOWED_HOSTS="example.com",
        SECONDHAND_HTTPS="1",
    )

    result = subprocess.run(
        [sys.executable, "-m", "secondhand_site", "check", "--deploy"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_warns_about_a_local_set_up(tmp_path, fresh_env):
    result = subprocess.run(
        [sys.executable, "-m", "secondhand_site", "--data-dir", str(tmp_path / "data"),
         "check", "--deploy"],
        env=fresh_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )

    assert "security.W" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# --- serve ---------------------------------------------------------------------------------


def test_serve_stops_clearly_when_the_data_folder_cannot_be_written(tmp_path, started):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(blocker / "data")])

    assert failed_cleanly(result)
    assert "cannot be written" in result.output
    assert str(blocker / "data") in result.output
    assert started == []


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_serve_refuses_a_port_out_of_range(invoke, started, port):
    result = invoke("serve", "--port", port)

    assert result.exit_code == 2
    assert "--port" in result.output
    assert started == []


@pytest.mark.django_db(transaction=True)
def test_serve_stops_clearly_when_the_port_is_taken(invoke, started):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = invoke("serve", "--port", str(port))

    assert failed_cleanly(result)
    assert f"Port {port} is already in use" in result.output
    assert started == []


@pytest.mark.django_db(transaction=True)
def test_serve_prints_the_url_and_how_to_add_an_owner(invoke, started):
    port = free_port()

    result = invoke("serve", "--port", str(port), "--workers", "3")

    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}/" in result.output
    assert "secondhand create-owner" in result.output
    assert started == [{"host": "127.0.0.1", "port": port, "workers": 3, "access_log": False}]


@pytest.mark.django_db(transaction=True)
def test_serve_names_the_owner_once_there_is_one(invoke, started, owner):
    result = invoke("serve", "--host", "0.0.0.0", "--port", str(free_port()))

    assert result.exit_code == 0, result.output
    assert owner.email in result.output
    assert "create-owner" not in result.output
    assert "http://127.0.0.1:" in result.output


@pytest.mark.django_db(transaction=True)
def test_serve_takes_the_port_from_the_environment(invoke, started):
    port = free_port()

    result = invoke("serve", env={"PORT": str(port)})

    assert result.exit_code == 0, result.output
    assert started[0]["port"] == port


# --- seed and manage -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_seed_adds_demo_members_and_is_safe_to_run_twice(invoke, password):
    first = invoke("seed")
    second = invoke("seed")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    members = User.objects.filter(email__in=["alice@example.com", "bob@example.com"])
    assert members.count() == 2
    assert EmailAddress.objects.filter(email="alice@example.com", verified=True).count() == 1
    assert "alice@example.com" in first.output


@pytest.mark.django_db(transaction=True)
def test_manage_passes_its_arguments_to_django(invoke):
    result = invoke("manage", "showmigrations", "secondhand_site")

    assert result.exit_code == 0, result.output
    assert "[X] 0001_initial" in result.output


# --- a real process on a new data folder ----------------------------------------------------


def test_every_command_works_on_a_new_data_folder(tmp_path, fresh_env):
    data = tmp_path / "fresh"
    base = [sys.executable, "-m", "secondhand_site", "--data-dir", str(data)]
    run = {"env": fresh_env(), "cwd": tmp_path, "capture_output": True, "text": True,
           "timeout": 180}

    owner = subprocess.run(
        [*base, "create-owner", "--email", "x@example.com", "--password", STRONG], **run
    )
    seed = subprocess.run([*base, "seed"], **run)

    assert owner.returncode == 0, owner.stdout + owner.stderr
    assert STRONG not in owner.stdout + owner.stderr
    assert seed.returncode == 0, seed.stdout + seed.stderr
    assert (data / "secondhand.sqlite3").is_file()
    assert (data / "secret_key").is_file()
    # SECONDHAND_DATA_DIR in the environment lost to --data-dir.
    assert not (tmp_path / "data").exists()
