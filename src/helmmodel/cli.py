"""The ``helmmodel`` command line."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from helmmodel import __version__
from helmmodel.errors import HelmModelError, InvalidInput

if TYPE_CHECKING:
    from typing import TypeAlias

    from helmmodel.harness.runner import MachineResult
    from helmmodel.kernel import KernelFactory
    from helmmodel.kernel.helm_api import ReleaseConfig

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

ADMIN_TOKEN_ENV = "HELMMODEL_ADMIN_TOKEN"
# serve's semantics and the release's defaults, spelled here (the kernel's constants, checked
# equal by tests/unit/test_helm_api.py) so that parsing arguments does not import the kernel.
CHAOS_PAGE = "chaos-page"
HELM_AI_KERNEL = "helm-ai-kernel"
DEFAULT_TENANT = "default"
DEFAULT_PRINCIPAL = "system-admin"
# The release's own environment variables for its API's auth (serve --semantics helm-ai-kernel).
RELEASE_ENV = {
    "helm_admin_key": "HELM_ADMIN_API_KEY",
    "helm_service_key": "HELM_SERVICE_API_KEY",
    "helm_tenant": "HELM_RUNTIME_TENANT_ID",
    "helm_principal": "HELM_RUNTIME_PRINCIPAL_ID",
}


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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``helmmodel`` parser: ``--version``, then the sub-commands in their help order."""
    parser = argparse.ArgumentParser(
        prog="helmmodel",
        description="A property-based stateful model checker for the HELM governance kernel.",
    )
    parser.add_argument("--version", action="version", version=f"helmmodel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in (
        _add_serve_command,
        _add_run_command,
        _add_replay_command,
        _add_promote_command,
        _add_show_command,
        _add_mutants_command,
        _add_storm_command,
        _add_fuzz_command,
    ):
        add_command(commands)
    return parser


# --- options that several commands take -------------------------------------------------------

# How corpus_for chooses a corpus when --corpus is not given.
_CORPUS_DEFAULT = (
    "(default: tests/regressions for the correct kernel, a new temporary directory for any "
    "other kernel)"
)


def _add_machine_names(command: argparse.ArgumentParser) -> None:
    """The machines to run, named as positional arguments."""
    command.add_argument(
        "machines", nargs="*", metavar="MACHINE", help="machines to run (default: all)"
    )


# The kernel module is not imported before a run starts measuring its reach; the names are data.
SEMANTICS_CHOICES = ("chaos-page", "helm-ai-kernel")


def _add_kernel(
    command: argparse.ArgumentParser, help_text: str, metavar: str | None = None
) -> None:
    """``--kernel``: the registered kernel the command works on."""
    command.add_argument("--kernel", default="correct", metavar=metavar, help=help_text)


def _add_corpus(command: argparse.ArgumentParser, help_text: str) -> None:
    """``--corpus``: the directory of saved counterexamples."""
    command.add_argument("--corpus", default=None, metavar="DIR", help=help_text)


def _add_list(command: argparse.ArgumentParser, things: str) -> None:
    """``--list``: list *things* and exit."""
    command.add_argument("--list", action="store_true", help=f"list the {things} and exit")


def _add_no_shrink(command: argparse.ArgumentParser, help_text: str) -> None:
    """``--no-shrink``: skip Hypothesis's shrinking."""
    command.add_argument("--no-shrink", dest="shrink", action="store_false", help=help_text)


def _add_import(command: argparse.ArgumentParser) -> None:
    """``--import``: modules imported first, which may register kernel variants."""
    command.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (it may register kernel variants); may be repeated",
    )


def _add_machine_dir(command: argparse.ArgumentParser) -> None:
    """``--machines``: the directory the machine modules are loaded from."""
    command.add_argument(
        "--machines",
        dest="machine_dir",
        default="machines",
        metavar="DIR",
        help="directory of machine modules (default: ./machines)",
    )


# --- one function per sub-command -------------------------------------------------------------


def _add_serve_command(commands: Commands) -> None:
    """``helmmodel serve``."""
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
    serve.add_argument(
        "--semantics",
        choices=(CHAOS_PAGE, HELM_AI_KERNEL),
        default=CHAOS_PAGE,
        help="the kernel served: the chaos page's (default), or HELM's helm-ai-kernel release, "
        "which also answers the release's API",
    )
    for option, what, default in (
        ("--helm-admin-key", "the release API's admin bearer key", "unset: its admin routes 401"),
        ("--helm-service-key", "the release API's service key", "unset: its service routes 401"),
        ("--helm-tenant", "the tenant the release API binds", f"else {DEFAULT_TENANT!r}"),
        ("--helm-principal", "the principal the release API binds", f"else {DEFAULT_PRINCIPAL!r}"),
    ):
        dest = option.removeprefix("--").replace("-", "_")
        serve.add_argument(
            option,
            default=None,
            metavar="KEY" if option.endswith("key") else "ID",
            help=f"{what}, with --semantics {HELM_AI_KERNEL} (default: ${RELEASE_ENV[dest]}; "
            f"{default})",
        )
    serve.add_argument("--access-log", action="store_true", help="log every request to stderr")
    serve.add_argument(
        "--max-requests",
        type=_positive,
        default=None,
        metavar="N",
        help="serve N requests to the kernel, then answer 503: bounds the records it keeps "
        "(about 6 KB a governed call; default: no bound)",
    )


def _add_run_command(commands: Commands) -> None:
    """``helmmodel run``."""
    run = commands.add_parser(
        "run",
        help="run state machines against the kernel and check every invariant",
        description="Run the state machines (all, or those named) and report what they reached.",
    )
    _add_machine_names(run)
    _add_kernel(run, "the kernel to check (default: correct)")
    run.add_argument(
        "--semantics",
        choices=SEMANTICS_CHOICES,
        action="append",
        default=None,
        metavar="NAME",
        help="the kernel's semantics (docs/kernel-spec.md section 12): chaos-page (the "
        "default) or helm-ai-kernel, HELM's release, whose run ends with a divergence report "
        "of the page's claims the release does not keep; give it twice to run both",
    )
    run.add_argument(
        "--profile",
        default=None,
        help="settings profile: dev, ci or nightly (default: $HELMMODEL_PROFILE or dev)",
    )
    run.add_argument(
        "--max-examples",
        type=_positive,
        default=None,
        metavar="N",
        help="examples per machine, overriding the profile",
    )
    _add_list(run, "machines")
    _add_no_shrink(
        run,
        "skip Hypothesis's shrinking (faster on a failure; the saved trace is made 1-minimal "
        "either way)",
    )
    _add_corpus(run, f"where to save counterexamples {_CORPUS_DEFAULT}")
    _add_import(run)
    _add_machine_dir(run)
    _add_coverage_options(run)


def _add_coverage_options(run: argparse.ArgumentParser) -> None:
    """The options of ``helmmodel run`` that measure the kernel's reach (coverage.py)."""
    run.add_argument(
        "--no-coverage",
        dest="coverage",
        action="store_false",
        help="do not measure which kernel lines and branches the run reached",
    )
    run.add_argument(
        "--coverage-html",
        default=None,
        metavar="DIR",
        help="where the HTML coverage report goes (default: .helmmodel/coverage)",
    )
    run.add_argument(
        "--coverage-floor",
        action="store_true",
        help="exit 1 when the kernel's reach is below the floor (FLOOR_PERCENT in "
        "helmmodel/harness/reach.py), naming the unreached lines",
    )


def _add_replay_command(commands: Commands) -> None:
    """``helmmodel replay``."""
    replay = commands.add_parser(
        "replay",
        help="replay saved traces and check each still does what its status says",
        description="Replay trace files (or every *.json under a directory) with no Hypothesis "
        "engine; report reproduced, fixed, diverged or invalid for each.",
    )
    replay.add_argument("paths", nargs="+", metavar="PATH")
    _add_import(replay)
    _add_machine_dir(replay)


def _add_promote_command(commands: Commands) -> None:
    """``helmmodel promote``."""
    promote = commands.add_parser(
        "promote",
        help="mark a saved trace fixed (or open) and re-record its outcomes and digests",
        description="Replay a trace; if it behaves as the new status says, re-record its "
        "outcomes and state digests and write the status into the file.",
    )
    promote.add_argument("path", metavar="PATH")
    promote.add_argument("--status", choices=["fixed", "open"], default="fixed")
    _add_import(promote)
    _add_machine_dir(promote)


def _add_show_command(commands: Commands) -> None:
    """``helmmodel show``."""
    show = commands.add_parser(
        "show",
        help="print a trace as a table and as a runnable Python program",
        description="Print a trace as a table and as a program; --pytest writes a test file.",
    )
    show.add_argument("path", metavar="PATH")
    show.add_argument("--pytest", metavar="FILE", help="write a standalone regression test here")
    show.add_argument("--force", action="store_true", help="let --pytest replace an existing file")
    _add_import(show)


def _add_mutants_command(commands: Commands) -> None:
    """``helmmodel mutants``."""
    mutants = commands.add_parser(
        "mutants",
        help="run the must-fail catalogue: each mutant kernel must be caught as expected",
        description="Run each mutant's machine against it (ci profile) and print a table; "
        "exit 1 if a mutant survives or is caught by another invariant than expected.",
    )
    mutants.add_argument("names", nargs="*", metavar="NAME", help="mutants to run (default: all)")
    _add_list(mutants, "mutants")
    _add_corpus(mutants, "where to save the traces (default: a new temporary directory)")
    _add_import(mutants)
    _add_machine_dir(mutants)


def _add_storm_command(commands: Commands) -> None:
    """``helmmodel storm``."""
    storm = commands.add_parser(
        "storm",
        help="scenario 4: concurrent calls on real threads, checked for linearizability",
        description="Fire CALLS governed calls from a thread pool at one budget of LIMIT "
        "requests, with a PRG mutation, a key rotation and a revocation mid-storm; then check "
        "the budget, the refusals, chains, ProofGraph and that the history is linearizable "
        "against the sequential model. Exit 1 if any run breaks a check.",
    )
    _add_kernel(storm, "the kernel to storm (default: correct; a concurrency mutant, say)", "NAME")
    storm.add_argument("--runs", type=_positive, default=1, help="storms to run (default: 1)")
    storm.add_argument(
        "--calls", type=_positive, default=1000, help="calls per storm (default: 1000)"
    )
    storm.add_argument(
        "--limit",
        type=_positive,
        default=None,
        help="the budget's limit, below CALLS (default: 70%% of CALLS)",
    )
    storm.add_argument(
        "--workers", type=_positive, default=16, help="threads in the pool (default: 16)"
    )
    storm.add_argument(
        "--programs",
        type=_positive,
        default=None,
        metavar="N",
        help="instead of storms: generate N small concurrent programs (Hypothesis), run each "
        "5 times, and print the smallest failing one, shrunk",
    )
    _add_import(storm)


def _add_fuzz_command(commands: Commands) -> None:
    """``helmmodel fuzz`` (issue #8): what to run, for how long, and where it goes."""
    fuzz = commands.add_parser(
        "fuzz",
        help="a long fuzz campaign: every core, until a time budget ends (docs/fuzzing.md)",
        description="Run the machines (all, or those named) in worker processes under the "
        "nightly profile, chunk after chunk with fresh seeds and swarm configurations, until "
        "--duration ends; save every new failure into the corpus and write a run directory "
        "(summary.json, junit.xml, report.html). Exit 1 if a new failure was found, 130 when "
        "stopped by Ctrl-C or SIGTERM.",
    )
    _add_machine_names(fuzz)
    fuzz.add_argument("--duration", required=True, help="the time budget: 90s, 20m, 8h, 1h30m")
    fuzz.add_argument(
        "--workers", default="auto", help="worker processes: auto (one per core) or a number"
    )
    _add_kernel(fuzz, "the kernel to check (default: correct)")
    _add_corpus(fuzz, f"where new counterexamples go and open cases are read {_CORPUS_DEFAULT}")
    fuzz.add_argument(
        "--db",
        default=None,
        metavar="DIR|redis://HOST:PORT",
        help="Hypothesis's example database, kept from one campaign to the next (default: "
        ".hypothesis-fuzz beside the run directory)",
    )
    fuzz.add_argument(
        "--shard",
        default="1/1",
        metavar="I/N",
        help="run the I-th of N shares of the machines and seeds (N runners never overlap)",
    )
    fuzz.add_argument(
        "--run-dir",
        default=None,
        metavar="DIR",
        help="where the summary and report go (default: fuzz-runs/<UTC time>[-shard-I-of-N])",
    )
    _add_fuzz_chunk_options(fuzz)
    _add_import(fuzz)
    _add_machine_dir(fuzz)


def _add_fuzz_chunk_options(fuzz: argparse.ArgumentParser) -> None:
    """The options of ``helmmodel fuzz`` that shape each chunk and the progress lines."""
    fuzz.add_argument(
        "--chunk-examples",
        default=None,
        metavar="N",
        help="examples per chunk: Hypothesis restarts after so many, so that its memory of "
        "explored examples stays bounded (default: 500)",
    )
    _add_no_shrink(
        fuzz, "skip Hypothesis's shrinking (each saved trace is made 1-minimal either way)"
    )
    fuzz.add_argument(
        "--swarm",
        default=None,
        metavar="CONFIG",
        help="run every chunk under this swarm configuration (all, no-fault, "
        "only-clock+clock-edges...; default: one drawn from each chunk's seed)",
    )
    fuzz.add_argument(
        "--progress-every",
        default="1m",
        metavar="DURATION",
        help="when not on a terminal, print a progress line this often (default: 1m)",
    )
    fuzz.add_argument(
        "--reach-every",
        default=None,
        metavar="N",
        help="measure the kernel's reach (coverage.py, which halves a chunk's steps) in the "
        "chunks of one round in N, the first included (a round runs each machine's next "
        "chunk); 1 measures every chunk (default: 4)",
    )
    fuzz.add_argument(
        "--stalled-after",
        default="5m",
        metavar="DURATION",
        help="kill and restart a worker that sends nothing for this long (default: 5m)",
    )


def fuzz(args: argparse.Namespace) -> int:
    """Run ``helmmodel fuzz``: check every argument, then run the campaign."""
    import datetime

    from helmmodel.fuzz import campaign
    from helmmodel.harness import kernels, runner

    try:
        duration_s = campaign.parse_duration(args.duration)
        progress_s = campaign.parse_duration(args.progress_every, "--progress-every")
        stalled_s = campaign.parse_duration(args.stalled_after, "--stalled-after")
        shard = campaign.parse_shard(args.shard)
        workers = campaign.parse_workers(args.workers)
        chunk_examples = campaign.DEFAULT_CHUNK_EXAMPLES
        if args.chunk_examples is not None:
            chunk_examples = campaign.parse_positive("--chunk-examples", args.chunk_examples)
        reach_every = campaign.DEFAULT_REACH_EVERY
        if args.reach_every is not None:
            reach_every = campaign.parse_positive("--reach-every", args.reach_every)
        kernels.import_modules(args.imports)
        kernels.kernel_factory(args.kernel)
        machines = campaign.plan_machines(
            runner.load_machines(args.machine_dir), args.machines, shard, args.swarm
        )
        corpus = corpus_for(args.kernel, args.corpus)
        if args.run_dir is None:
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
            suffix = f"-shard-{shard.index}-of-{shard.count}" if shard.count > 1 else ""
            run_dir = Path("fuzz-runs") / f"{stamp}{suffix}"
        else:
            run_dir = Path(args.run_dir)
        database = args.db or str(run_dir.parent / ".hypothesis-fuzz")
        # Everything checked before the run directory is made: a refused option leaves no
        # directory and no campaign.pid behind.
        campaign.check_run_dir(run_dir)
        campaign.check_database(database)
        campaign.prepare_run_dir(run_dir)
    except HelmModelError as exc:
        print(f"helmmodel fuzz: {exc}", file=sys.stderr)
        return 2
    options = campaign.Options(
        machines=machines,
        duration_s=duration_s,
        workers=workers,
        kernel=args.kernel,
        corpus=corpus,
        database=database,
        shard=shard,
        run_dir=run_dir,
        chunk_examples=chunk_examples,
        reach_every=reach_every,
        shrink=args.shrink,
        progress_every_s=progress_s,
        stalled_after_s=stalled_s,
        command_line=tuple(args.command_line),
        machine_dir=Path(args.machine_dir),
        imports=tuple(args.imports),
        swarm=args.swarm,
    )
    return campaign.run(options, sys.stdout)


REPOSITORY_CORPUS = Path("tests/regressions")


def corpus_for(kernel: str, given: str | None) -> Path:
    """The corpus a run saves into, checked writable now (a failure found later must not be
    lost to a bad path); only the correct kernel's may be the repository's."""
    from helmmodel.harness import trace as traces  # no kernel module: run measures those

    if given is not None:
        path = Path(given)
        if kernel != "correct" and path.resolve() == REPOSITORY_CORPUS.resolve():
            raise HelmModelError(
                f"--corpus {given}: counterexamples of the {kernel!r} kernel never go into the "
                "repository's corpus; give another directory"
            )
        traces.check_writable_directory(path, "--corpus")
        return path
    if kernel == "correct":
        traces.check_writable_directory(REPOSITORY_CORPUS, "the corpus")
        return REPOSITORY_CORPUS
    return Path(tempfile.mkdtemp(prefix=f"helmmodel-{kernel}-"))


def run(args: argparse.Namespace) -> int:
    """Run ``helmmodel run``: machines, their figures, the kernel's reach, and a non-zero
    status on a violation (or, with --coverage-floor, a reach below the floor)."""
    from helmmodel.harness import reach  # imports no kernel module, unlike the runner

    if not args.coverage and (args.coverage_floor or args.coverage_html):
        print(
            "helmmodel run: --no-coverage leaves nothing for --coverage-floor or --coverage-html",
            file=sys.stderr,
        )
        return 2
    measurement = reach.measuring() if args.coverage else None
    if measurement is not None:
        measurement.start()  # before the harness is imported: its set-up of kernels counts too
    try:
        ran = _run_machines(args)
    finally:
        if measurement is not None:
            measurement.stop()
    from helmmodel.harness import runner

    if isinstance(ran, int):
        return ran
    if ran[-1].interrupted:
        print(runner.summary_line(ran) + " (stopped by Ctrl-C)")
        return 130
    status = runner.exit_status(ran)
    if "helm-ai-kernel" in (args.semantics or ()) and args.kernel == "correct":
        ran_release = {result.machine for result in ran if result.semantics == "helm-ai-kernel"}
        status = max(status, _divergences(args, ran_release))
    if measurement is not None:
        html = Path(args.coverage_html) if args.coverage_html else reach.DEFAULT_HTML
        measured = reach.analyse(measurement, html)
        status = max(status, runner.report_reach(measured, args.coverage_floor, sys.stdout))
    print(runner.summary_line(ran))
    return status


def _divergences(args: argparse.Namespace, ran: set[str]) -> int:
    """Show each chaos-page claim the release does not keep, on the machines that ran
    (harness/divergence.py)."""
    from helmmodel.harness import divergence, profiles, runner

    profile = profiles.profile_name(args.profile)
    machines = runner.load_machines(args.machine_dir)
    found = divergence.show_all(
        {name: machine for name, machine in machines.items() if name in ran},
        corpus_for(args.kernel, args.corpus),
        profile_settings=profiles.load(profile),
        profile=profile,
    )
    return divergence.report(found, sys.stdout)


def _run_machines(args: argparse.Namespace) -> int | list[MachineResult]:
    """Check the arguments, then run each machine, print its block and save its failures
    (stopping on Ctrl-C); an exit status instead when there is nothing to run."""
    from helmmodel.harness import capture, kernels, profiles, runner

    try:
        kernels.import_modules(args.imports)
        profile = profiles.profile_name(args.profile)
        profile_settings = profiles.load(profile)
        kernels.kernel_factory(args.kernel)
        corpus = corpus_for(args.kernel, args.corpus)
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
    for semantics in dict.fromkeys(args.semantics or SEMANTICS_CHOICES[:1]):
        for machine in selected:
            print(f"running {machine.name} ...", flush=True)  # type: ignore[attr-defined]
            result = runner.run_machine(
                machine,
                kernel=args.kernel,
                profile_settings=profile_settings,
                profile=profile,
                max_examples=args.max_examples,
                shrink=args.shrink,
                semantics=semantics,
            )
            runner.report(result, sys.stdout)
            if result.failures:
                capture.save_failures(result, corpus, sys.stdout)
            results.append(result)
            if result.interrupted:
                return results
    return results


def serve(args: argparse.Namespace) -> int:
    """Run ``helmmodel serve`` until interrupted."""
    from helmmodel import server

    admin_token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV)
    generated = admin_token is None
    if admin_token is None:
        admin_token = secrets.token_urlsafe(24)
    try:
        release = _release_config(args)
        kernel = server.demo_kernel(
            admin_token, args.token, semantics=args.semantics, release=release
        )
    except InvalidInput as exc:
        print(f"helmmodel serve: {exc}", file=sys.stderr)
        return 2
    try:
        running = server.start(
            kernel,
            args.host,
            args.ports or [8080, 9090],
            access_log=args.access_log,
            max_requests=args.max_requests,
        )
    except OSError as exc:
        print(f"helmmodel serve: cannot listen on {args.host}: {exc}", file=sys.stderr)
        return 1
    warning = server.exposure_warning(args.host)
    if warning is not None:
        print(f"helmmodel serve: warning: {warning}", file=sys.stderr, flush=True)
    if generated:
        print(f"admin token (generated, shown once): {admin_token}", flush=True)
    if release is not None:
        print(f"also answering {HELM_AI_KERNEL}'s API at the same ports", flush=True)
        if release.admin_key is None:
            print(
                "helmmodel serve: warning: no --helm-admin-key (or $HELM_ADMIN_API_KEY): the "
                "release API's admin and tenant-scoped routes answer 401, as the release does",
                file=sys.stderr,
                flush=True,
            )
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


def _release_config(args: argparse.Namespace) -> ReleaseConfig | None:
    """The release API's auth from ``serve``'s options, else the release's own environment
    variables, else its defaults; None under the chaos page. Raises InvalidInput for a release
    option given without ``--semantics helm-ai-kernel``, or a blank one."""
    from helmmodel import server

    given = [name for name in RELEASE_ENV if getattr(args, name) is not None]
    if args.semantics != HELM_AI_KERNEL:
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            raise InvalidInput(f"{options}: only with --semantics {HELM_AI_KERNEL}")
        return None
    # As the release reads them: an empty variable is an unset one.
    values = {
        name: getattr(args, name) if name in given else (os.environ.get(env, "").strip() or None)
        for name, env in RELEASE_ENV.items()
    }
    audience, keys = _fence_environment()
    return server.release_config(
        admin_key=values["helm_admin_key"],
        service_key=values["helm_service_key"],
        tenant_id=values["helm_tenant"] or DEFAULT_TENANT,
        principal_id=values["helm_principal"] or DEFAULT_PRINCIPAL,
        workspace_id=os.environ.get("HELM_RUNTIME_WORKSPACE_ID", "").strip() or None,
        fence_audience=audience,
        fence_keys=keys,
    )


def _fence_environment() -> tuple[str | None, dict[str, bytes]]:
    """The release's emergency-stop fence from its own variables: the command audience and
    keys when ``HELM_EMERGENCY_STOP_FENCE_ENABLED`` is on, else (None, {}). A fence enabled but
    not configured is refused, as the release refuses to start."""
    enabled = os.environ.get("HELM_EMERGENCY_STOP_FENCE_ENABLED", "").strip().lower()
    if enabled not in {"1", "true", "yes", "on"}:
        return None, {}
    audience = os.environ.get("HELM_EMERGENCY_STOP_COMMAND_AUDIENCE", "").strip()
    raw = os.environ.get("HELM_EMERGENCY_STOP_COMMAND_PUBLIC_KEYS", "").strip()
    if not audience or not raw:
        raise InvalidInput(
            "HELM_EMERGENCY_STOP_FENCE_ENABLED needs HELM_EMERGENCY_STOP_COMMAND_AUDIENCE and "
            "HELM_EMERGENCY_STOP_COMMAND_PUBLIC_KEYS (KEY_ID=<64 hex>[,...])"
        )
    keys: dict[str, bytes] = {}
    for entry in raw.split(","):
        key_id, sep, public = (part.strip() for part in entry.partition("="))
        try:
            key = bytes.fromhex(public)
        except ValueError:
            key = b""
        if not sep or len(key) != 32 or key_id in keys:
            raise InvalidInput(
                f"HELM_EMERGENCY_STOP_COMMAND_PUBLIC_KEYS entry {entry.strip()!r} is not a new "
                "KEY_ID=<64 hex digits of an Ed25519 public key>"
            )
        keys[key_id] = key
    return audience, keys


def replay(args: argparse.Namespace) -> int:
    """Run ``helmmodel replay``: a verdict per file; 0 only if every file matches its status."""
    from helmmodel.harness import kernels, runner
    from helmmodel.harness import replay as replaying
    from helmmodel.harness import trace as traces

    try:
        kernels.import_modules(args.imports)
        machines = runner.load_machines(args.machine_dir)
        missing = [path for path in args.paths if not Path(path).exists()]
        if missing:
            raise HelmModelError(f"no such file or directory: {', '.join(missing)}")
        paths = traces.find(args.paths)
        if not paths:
            raise HelmModelError(
                f"no trace files (*.json) in {', '.join(args.paths)}: nothing to replay"
            )
        loaded = [(path, traces.load(path)) for path in paths]
    except HelmModelError as exc:
        print(f"helmmodel replay: {exc}", file=sys.stderr)
        return 2
    mismatched = invalid = 0
    for path, trace in loaded:
        verdict = replaying.judge(trace, machines)
        matches = verdict.matches(trace.status)
        mismatched += not matches
        invalid += verdict.verdict == replaying.INVALID
        mark = "ok" if matches else f"MISMATCH: status {trace.status} expects "
        mark += "" if matches else replaying.EXPECTED_VERDICT[trace.status]
        print(f"{path}: {verdict.verdict} ({mark}): {verdict.detail}")
        if verdict.drift:
            print(
                f"  drift: state digests differ at steps {verdict.drift} with the same outcomes "
                "(the kernel's state is encoded differently now); "
                f"`helmmodel promote {path} --status {trace.status}` re-records them"
            )
        if not matches and verdict.passes():
            print(f"  the case passes now: `helmmodel promote {path}` marks it fixed")
    print(f"{len(loaded)} traces replayed, {len(loaded) - mismatched} as their status says")
    return 2 if invalid else 1 if mismatched else 0


def promote(args: argparse.Namespace) -> int:
    """Run ``helmmodel promote``: re-record a trace under a new status, if it behaves so."""
    from helmmodel.harness import kernels, runner
    from helmmodel.harness import replay as replaying
    from helmmodel.harness import trace as traces

    try:
        kernels.import_modules(args.imports)
        machines = runner.load_machines(args.machine_dir)
        trace = traces.load(args.path)
    except HelmModelError as exc:
        print(f"helmmodel promote: {exc}", file=sys.stderr)
        return 2
    verdict = replaying.judge(trace, machines)
    wanted = replaying.EXPECTED_VERDICT[args.status]
    behaves = verdict.verdict == wanted or (
        args.status == "fixed"
        and verdict.verdict == replaying.DIVERGED
        and verdict.replayed is not None
        and verdict.replayed.violation is None
    )
    if verdict.verdict == replaying.INVALID:
        print(f"helmmodel promote: {args.path}: {verdict.detail}", file=sys.stderr)
        return 2
    if not behaves or verdict.replayed is None:
        print(
            f"helmmodel promote: {args.path} is {verdict.verdict} ({verdict.detail}); "
            f"it cannot be marked {args.status}",
            file=sys.stderr,
        )
        return 1
    trace.status = args.status
    trace.steps = verdict.replayed.steps
    if verdict.replayed.violation is not None:
        trace.message = str(verdict.replayed.violation)
    traces.write_atomically(Path(args.path), trace.to_json())
    print(f"{args.path}: marked {args.status}, {len(trace.steps)} steps re-recorded")
    return 0


def show(args: argparse.Namespace) -> int:
    """Run ``helmmodel show``: the trace as a table and a program (or a pytest file)."""
    from helmmodel.harness import kernels
    from helmmodel.harness import show as showing
    from helmmodel.harness import trace as traces

    try:
        kernels.import_modules(args.imports)
        trace = traces.load(args.path)
        if args.pytest:
            _write_pytest(
                Path(args.pytest), showing.pytest_file(trace, args.path, args.imports), args
            )
            print(f"wrote {args.pytest}")
            return 0
    except HelmModelError as exc:
        print(f"helmmodel show: {exc}", file=sys.stderr)
        return 2
    print(f"{args.path}: {trace.machine} against the {trace.kernel} kernel, status {trace.status}")
    if trace.status == "fixed":
        print(
            f"once violated {trace.invariant} (fixed: the kernel passes it now): {trace.message}\n"
        )
    else:
        print(f"violates {trace.invariant}: {trace.message}\n")
    print(showing.table(trace))
    print()
    print(showing.program(trace, args.imports))
    return 0


def _write_pytest(target: Path, text: str, args: argparse.Namespace) -> None:
    """Write the regression test; never over the trace itself, nor over a file without
    ``--force``."""
    from helmmodel.harness import trace as traces

    if target.resolve() == Path(args.path).resolve():
        raise HelmModelError(f"--pytest {target} is the trace itself; give a .py file beside it")
    if target.exists() and not args.force:
        raise HelmModelError(f"--pytest {target} exists; add --force to replace it")
    try:
        traces.write_text_atomically(target, text)
    except OSError as exc:
        raise HelmModelError(
            f"--pytest {target}: cannot write it ({exc.strerror or exc})"
        ) from None


def mutants(args: argparse.Namespace) -> int:
    """Run ``helmmodel mutants``: every (named) mutant against its machine, as a table."""
    from helmmodel import mutants as catalogue
    from helmmodel.harness import kernels, mutation, profiles

    try:
        kernels.import_modules(args.imports)
        unknown = [name for name in args.names if name not in catalogue.BY_NAME]
        if unknown:
            raise HelmModelError(
                f"unknown mutant {', '.join(map(repr, unknown))}; see `helmmodel mutants --list`"
            )
        threaded = [name for name in args.names if catalogue.BY_NAME[name].needs_threads]
        if threaded:
            raise HelmModelError(
                f"{', '.join(map(repr, threaded))} needs real threads, which no state machine "
                f"has: run `helmmodel storm --kernel {threaded[0]}`"
            )
        if args.list:
            for mutant in catalogue.CATALOGUE:
                print(f"{mutant.name:<44} {mutant.invariant:<28} {mutant.description}")
            return 0
        corpus = corpus_for("mutants", args.corpus)
        profiles.load("ci")
    except HelmModelError as exc:
        print(f"helmmodel mutants: {exc}", file=sys.stderr)
        return 2
    return mutation.run_and_report(
        args.names, machines_dir=args.machine_dir, corpus=corpus, out=sys.stdout
    )


def storm(args: argparse.Namespace) -> int:
    """Run ``helmmodel storm``: storms on real threads, each checked; 1 if a check broke."""
    from helmmodel.concurrency import storm as storms
    from helmmodel.harness import kernels

    try:
        kernels.import_modules(args.imports)
        factory = kernels.kernel_factory(args.kernel)
        limit = args.limit if args.limit is not None else storms.default_limit(args.calls)
        if limit >= args.calls:
            raise HelmModelError(
                f"--limit {limit} must be below --calls {args.calls}: the storm needs more "
                "calls than the budget allows, so that they contend"
            )
    except HelmModelError as exc:
        print(f"helmmodel storm: {exc}", file=sys.stderr)
        return 2
    if args.programs is not None:
        return _programs(factory, args.kernel, args.programs)
    config = storms.StormConfig(calls=args.calls, limit=limit, workers=args.workers)
    failed = 0
    done = 0
    try:
        for number in range(1, args.runs + 1):
            report = storms.check_storm(storms.run_storm(factory, config), config)
            done += 1
            failed += not report.ok
            print(f"storm {number}/{args.runs} against the {args.kernel} kernel:")
            for line in report.lines():
                print(f"  {line}")
            sys.stdout.flush()
    except KeyboardInterrupt:
        print(f"stopped by Ctrl-C after {done} storms: {failed} failed a check")
        return 130
    if failed:
        print(f"{failed} of {done} storms broke a check (the {args.kernel} kernel)")
        return 1
    print(f"every check held in {done} storms (the {args.kernel} kernel)")
    return 0


def _programs(factory: KernelFactory, kernel: str, count: int) -> int:
    """``helmmodel storm --programs N``: the Hypothesis property over generated programs."""
    from helmmodel.concurrency.programs import search

    print(f"generating {count} concurrent programs against the {kernel} kernel ...", flush=True)
    try:
        failure = search(factory, runs=5, max_examples=count)
    except KeyboardInterrupt:
        print("stopped by Ctrl-C")
        return 130
    if failure is None:
        print(f"every generated program passed (the {kernel} kernel)")
        return 0
    print(f"smallest failing program (shrunk): {failure.program}")
    print(failure.text())
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # What made the run, for a campaign's report to show.
    args.command_line = ["helmmodel", *(sys.argv[1:] if argv is None else argv)]
    if args.command == "serve":
        return serve(args)
    if args.command == "fuzz":
        return fuzz(args)
    commands = {
        "run": run,
        "replay": replay,
        "promote": promote,
        "show": show,
        "mutants": mutants,
        "storm": storm,
    }
    if args.command in commands:
        return commands[args.command](args)
    parser.print_help()
    return 2
