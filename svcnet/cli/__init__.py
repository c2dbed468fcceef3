"""The ``svcnet`` command. Each ``svcnet/cli/cmd_<name>.py`` module defines ``register(app)`` and adds one
subcommand; the modules are discovered here, so stages stay independent. Heavy imports (torch) happen inside
the command functions, so ``svcnet --help`` is fast."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

from svcnet import __version__
from svcnet.data.atomic import NO_SPACE, disk_full
from svcnet.errors import SvcnetError

app = typer.Typer(
    name="svcnet",
    help="SVCNet scribble-based video colorization: data preparation, inference, evaluation and training.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"svcnet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def _register_commands() -> None:
    package = sys.modules[__name__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{info.name}").register(app)


_register_commands()


def _usage_errors() -> tuple[type[Exception], ...]:
    """The exception types of a command-line usage error: click's, and those of the copy of click that typer carries
    from 0.29 on (subclasses of ``typer.TyperException``)."""
    import click

    return (click.ClickException, *((typer.TyperException,) if hasattr(typer, "TyperException") else ()))


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit status 2."""
    try:
        app(args=argv, prog_name="svcnet", standalone_mode=False)
    except SvcnetError as exc:
        typer.echo(f"svcnet: error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("svcnet: interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        typer.echo(f"svcnet: error: {disk_full(exc.filename)}", err=True)
        return 2
    except Exception as exc:
        if isinstance(exc, _usage_errors()):
            exc.show()
            return exc.exit_code
        raise
    return 0
