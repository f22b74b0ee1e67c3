"""The ``secondhand`` command line: one click group, one function per command."""

from __future__ import annotations

import sys

if sys.version_info < (3, 12):  # noqa: UP036 - a clear message for a too-old Python
    sys.stderr.write(
        "Error: Secondhand needs Python 3.12 or newer (this is Python "
        f"{sys.version_info.major}.{sys.version_info.minor}). Install python3.12 or newer "
        "(for example `apt-get install python3.12` or pyenv) and run `make run` again.\n"
    )
    raise SystemExit(2)

import errno
import os
import socket
from pathlib import Path

import click

from secondhand_site import __version__

DEFAULT_DATA_DIR = "secondhand-data"


def _prepare_data_dir(path: str | os.PathLike[str]) -> Path:
    """Create the data folder and prove it is writable, or stop with a clear error."""
    folder = Path(path).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise click.ClickException(
            f"The data folder {folder} cannot be written ({exc.strerror or exc}). "
            "Choose another with --data-dir or SECONDHAND_DATA_DIR."
        ) from None
    return folder


def _set_data_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Accepted both before and after the command name; the last one given wins. The
    # command's copy of the option also reads SECONDHAND_DATA_DIR, which must not
    # override a --data-dir given before the command name.
    if value is not None:
        store = ctx.ensure_object(dict)
        typed = ctx.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE
        if typed or "data_dir" not in store:
            store["data_dir"] = value
    return value


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="SECONDHAND_DATA_DIR",
    callback=_set_data_dir,
    expose_value=False,
    is_eager=True,
    help="Folder for the SQLite database, media, saved mail and the secret key "
    f"[env SECONDHAND_DATA_DIR; default ./{DEFAULT_DATA_DIR}].",
)


def setup_django() -> Path:
    """Point Django at the chosen data folder and set it up (once per process)."""
    ctx = click.get_current_context()
    folder = _prepare_data_dir((ctx.obj or {}).get("data_dir") or DEFAULT_DATA_DIR)
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ["SECONDHAND_DATA_DIR"] = str(folder)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secondhand_site.settings")
        django.setup()
    return folder


def ensure_database() -> None:
    """Bring the database up to date: migrations and the shared cache table."""
    from django.core.management import call_command
    from django.db import DatabaseError

    try:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
    except DatabaseError as exc:
        raise click.ClickException(f"The database could not be prepared: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="secondhand")
@data_dir_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Secondhand: a community second-hand platform.

    Start with `secondhand serve`, then open the URL it prints.
    """
    ctx.ensure_object(dict)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, envvar="PORT",
              show_default=True, help="Port to listen on [env PORT].")
@click.option("--workers", type=click.IntRange(1, 64), default=2, envvar="WEB_CONCURRENCY",
              show_default=True, help="Server processes [env WEB_CONCURRENCY].")
@click.option("--access-log/--no-access-log", default=False,
              help="Print one line per request.")
@data_dir_option
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Migrate, prepare static files and start the web server."""
    shown_host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    # Links in notification mails; behind a proxy set SECONDHAND_SITE_URL yourself.
    os.environ.setdefault("SECONDHAND_SITE_URL", f"http://{shown_host}:{port}")
    folder = setup_django()
    ensure_database()
    _collect_static()
    _check_port_free(host, port)

    from django.conf import settings

    from secondhand_site.server import run

    click.echo(f"Secondhand {__version__} with data in {folder}")
    click.echo(f"Database: {_describe_database(settings.DATABASES['default'])}")
    click.echo(_owner_hint())
    click.secho(f"Serving on http://{shown_host}:{port}/  (Ctrl-C to stop)", fg="green", bold=True)
    master = os.getpid()
    try:
        run(host=host, port=port, workers=workers, access_log=access_log)
    except SystemExit as exc:  # gunicorn ends a clean stop with sys.exit(0)
        # Workers are forked from here and leave through the same exit: only the
        # master process reports the stop.
        if exc.code not in (0, None) or os.getpid() != master:
            raise
    click.echo("Stopped.")


def _collect_static() -> None:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"Port {port} is already in use on {host}. Choose another with --port."
                ) from None
            raise click.ClickException(f"Cannot listen on {host}:{port}: {exc.strerror}") from None


def _describe_database(db: dict) -> str:
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite file {db['NAME']}"
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    return f"{engine} database {db.get('NAME')} on {db.get('HOST') or 'localhost'}"


def _owner_hint() -> str:
    from secondhand_site.models import User

    owner = User.objects.filter(is_owner=True, is_active=True).order_by("pk").first()
    if owner is None:
        return ("No owner account yet: run `secondhand create-owner --email you@example.com` "
                "to add one.")
    return f"Owner account: log in as {owner.email}"


def _can_prompt() -> bool:
    return sys.stdin.isatty()


@cli.command("create-owner")
@click.option("--email", required=True, help="Email address the owner logs in with.")
@click.option("--password", default=None,
              help="Password (else $SECONDHAND_OWNER_PASSWORD, else asked for). "
              "An existing account keeps its password unless one is given.")
@data_dir_option
def create_owner(email: str, password: str | None) -> None:
    """Create an owner account, or make an existing account an owner."""
    setup_django()
    ensure_database()
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import IntegrityError

    from secondhand_site import services
    from secondhand_site.models import User

    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise click.ClickException(f"{email!r} is not a valid email address.") from None

    password = password or os.environ.get("SECONDHAND_OWNER_PASSWORD") or None
    exists = User.objects.filter(email__iexact=email).exists()
    if password is None and not exists:
        if not _can_prompt():
            raise click.ClickException(
                "No password given. Use --password, set SECONDHAND_OWNER_PASSWORD, "
                "or run this in a terminal to be asked."
            )
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, created = services.create_owner(email=email, password=password)
    except ValidationError as exc:
        raise click.ClickException(" ".join(exc.messages)) from None
    except IntegrityError:
        # The address is a second (verified) address of some other account.
        raise click.ClickException(
            f"{email} is already used by another account. Give that account's main "
            "email address, or another address."
        ) from None
    if created:
        click.echo(f"Created owner account {user.email}.")
    else:
        changed = " and set its password" if password else ""
        click.echo(f"{user.email} is an owner now{changed}.")


@cli.command()
@click.option("--items", type=click.IntRange(0, 1_000_000), default=24, show_default=True,
              help="How many demo items to add.")
@data_dir_option
def seed(items: int) -> None:
    """Add demo members and top the catalog up to N demo items with drawn photos."""
    setup_django()
    ensure_database()
    from secondhand_site import seed as seeding

    def progress(total: int):
        return click.progressbar(length=total, label="Adding demo items", show_pos=True,
                                 file=sys.stderr)

    seeding.run(items=items, echo=click.echo, progress=progress)


@cli.command()
@data_dir_option
def sweep() -> None:
    """End overdue holds now and send due reminders (`serve` also does this by itself)."""
    setup_django()
    ensure_database()
    from secondhand_site import services

    ended = services.expire_due()
    click.echo(f"Ended {ended} overdue hold{'s' if ended != 1 else ''}.")


@cli.command()
@click.option("--deploy", is_flag=True, help="Also run the checks for a production deployment.")
@data_dir_option
def check(deploy: bool) -> None:
    """Run Django's system checks."""
    setup_django()
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        call_command("check", deploy=deploy)
    except SystemCheckError as exc:
        raise click.ClickException(str(exc).strip()) from None


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@data_dir_option
def manage(args: tuple[str, ...]) -> None:
    """Run any Django management command, e.g. `secondhand manage shell`."""
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["secondhand manage", *args])


def main() -> None:
    cli(prog_name="secondhand")
