"""The ``helmmodel`` command line."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
from collections.abc import Sequence

from helmmodel import __version__
from helmmodel.errors import HelmModelError, InvalidInput

ADMIN_TOKEN_ENV = "HELMMODEL_ADMIN_TOKEN"


def _token_pair(text: str) -> tuple[str, str]:
    token, sep, principal = text.partition("=")
    if not sep or not token or not principal:
        raise argparse.ArgumentTypeError(f"{text!r} is not TOKEN=PRINCIPAL")
    return token, principal


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0..65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helmmodel",
        description="A property-based stateful model checker for the HELM governance kernel.",
    )
    parser.add_argument("--version", action="version", version=f"helmmodel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the kernel model over HTTP (the chaos page's endpoints)",
        description="Serve the kernel model's request surface over HTTP until Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port",
        type=_port,
        action="append",
        dest="ports",
        metavar="PORT",
        help="port to listen on; give it more than once for several (default: 8080 and 9090)",
    )
    serve.add_argument(
        "--admin-token",
        default=None,
        help=f"the admin bearer token (default: ${ADMIN_TOKEN_ENV}, else a random one, printed)",
    )
    serve.add_argument(
        "--token",
        type=_token_pair,
        action="append",
        default=[],
        metavar="TOKEN=PRINCIPAL",
        help="a further bearer token for a principal that is not an admin",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request to stderr")

    run = commands.add_parser(
        "run",
        help="run state machines against the kernel and check every invariant",
        description="Run the state machines (all, or those named) and report what they reached.",
    )
    run.add_argument(
        "machines", nargs="*", metavar="MACHINE", help="machines to run (default: all)"
    )
    run.add_argument("--kernel", default="correct", help="the kernel to check (default: correct)")
    run.add_argument(
        "--profile",
        default=None,
        help="settings profile: dev, ci or nightly (default: $HELMMODEL_PROFILE or dev)",
    )
    run.add_argument(
        "--machines",
        dest="machine_dir",
        default="machines",
        metavar="DIR",
        help="directory of machine modules (default: ./machines)",
    )
    run.add_argument(
        "--max-examples",
        type=_positive,
        default=None,
        metavar="N",
        help="examples per machine, overriding the profile",
    )
    run.add_argument("--list", action="store_true", help="list the machines and exit")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``helmmodel run``: machines, their figures, and a non-zero status on a violation."""
    from helmmodel import profiles, runner

    try:
        profile = profiles.profile_name(args.profile)
        profile_settings = profiles.load(profile)
        runner.kernel_factory(args.kernel)
        machines = runner.load_machines(args.machine_dir)
        if args.list:
            for name, line in runner.describe_machines(machines):
                print(f"{name:<20} {line}")
            return 0
        selected = runner.select(machines, args.machines)
    except HelmModelError as exc:
        print(f"helmmodel run: {exc}", file=sys.stderr)
        return 2
    results = []
    for machine in selected:
        print(f"running {machine.name} ...", flush=True)  # type: ignore[attr-defined]
        result = runner.run_machine(
            machine,
            kernel=args.kernel,
            profile_settings=profile_settings,
            profile=profile,
            max_examples=args.max_examples,
        )
        runner.report(result, sys.stdout)
        results.append(result)
    print(runner.summary_line(results))
    return runner.exit_status(results)


def serve(args: argparse.Namespace) -> int:
    """Run ``helmmodel serve`` until interrupted."""
    from helmmodel import server

    admin_token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV)
    generated = admin_token is None
    if admin_token is None:
        admin_token = secrets.token_urlsafe(24)
    try:
        kernel = server.demo_kernel(admin_token, args.token)
    except InvalidInput as exc:
        print(f"helmmodel serve: {exc}", file=sys.stderr)
        return 2
    try:
        running = server.start(
            kernel, args.host, args.ports or [8080, 9090], access_log=args.access_log
        )
    except OSError as exc:
        print(f"helmmodel serve: cannot listen on {args.host}: {exc}", file=sys.stderr)
        return 1
    if generated:
        print(f"admin token (generated, shown once): {admin_token}", flush=True)
    for port in running.ports:
        print(f"listening on http://{args.host}:{port}", flush=True)
    print("press Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        running.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "run":
        return run(args)
    parser.print_help()
    return 2
