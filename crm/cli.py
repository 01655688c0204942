"""`flask crm …` commands: init (roles and permissions), seed-demo."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

crm_cli = AppGroup("crm", help="CRM administration commands.")


@crm_cli.command("init")
def init_command():
    """Create FAB permissions and the staff and customer roles (run after `flask db upgrade`)."""
    from crm.services.roles import sync_roles

    sync_roles(current_app.appbuilder)
    click.echo("Roles and permissions are up to date.")
    from crm.services.help_content import ensure_help_pages

    click.echo(f"Help pages added: {ensure_help_pages()}.")
    from crm.services.appeal_definitions import ensure_appeal_definitions

    ensure_appeal_definitions()
    click.echo("Appeal catalogue, forms and workflows are in place.")


@crm_cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has contracts.")
def seed_demo_command(if_empty: bool):
    """Load the demo data and demo logins."""
    from crm.services.demo import DemoError, seed_demo

    try:
        created = seed_demo(only_if_empty=if_empty)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Demo data loaded." if created else "Database already has data; demo not loaded.")


@crm_cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve_command(host: str, port: int):
    """Serve the app for development; without Redis, also run jobs and schedules in-process."""
    from workflows.schedule import start_inprocess_scheduler

    app = current_app._get_current_object()
    if app.config["JOBS_INLINE"]:
        start_inprocess_scheduler(app)
    from crm.serving import prepare_for_serving

    prepare_for_serving()
    click.echo(f"Portal:      http://{host}:{port}/portal/")
    click.echo(f"Back office: http://{host}:{port}/login/")
    # app.run() is ignored inside the `flask` command; serve with Werkzeug directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False)


@crm_cli.command("demo-logins")
def demo_logins_command():
    """Print the demo logins (the README lists the same)."""
    from crm.services.demo import DEMO_LOGINS

    click.echo("Demo logins:")
    for login, password, what in DEMO_LOGINS:
        click.echo(f"  {login:<28} {password:<18} {what}")


@crm_cli.command("api-token")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, default=("readings", "billing"), show_default=True,
              help="A scope the token gets (repeat for several).")
def api_token_command(name: str, scopes: tuple[str, ...]):
    """Issue a billing-API token and print its secret (shown only this once)."""
    from crm.services.api_tokens import ApiTokenError, issue_token

    try:
        token, secret = issue_token(name, list(scopes))
    except ApiTokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Token {token.name!r} ({', '.join(token.scopes)}): {secret}")
    click.echo("Keep it now: only its hash is stored.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(crm_cli)
