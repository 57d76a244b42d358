"""The ``insightkit`` command: one function per subcommand, registered in ``COMMANDS``.

Adding a subcommand = one ``@command`` function that receives parsed ``args`` and returns an exit code,
plus an ``add_arguments`` helper. Output: human tables (stdout) fitted to the terminal width
(``$COLUMNS``, else 80 when not a terminal; ``--wide`` opts out), headed by the source and the snapshot
method; ``--json`` for scripts; ``-v`` logs the pipeline to stderr; errors are one line on stderr.

Exit codes: 0 success, 1 bad input or failed snapshot (an InsightkitError or an OS error, message on
one line), 2 usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from insightkit._files import remove_output, replaced_atomically
from insightkit._text import (
    display_key,
    escape_text,
    human_bytes,
    json_escaped,
    plural,
    render_table,
    terminal_width,
    wrap,
)
from insightkit._version import __version__
from insightkit.errors import InsightkitError, PasswordRequired

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
REDACT_KEY_ENV = "INSIGHTKIT_REDACT_KEY"
PASSWORD_ENV = "REDISCLI_AUTH"  # what redis-cli reads: a password there stays out of `ps`

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register ``run(args) -> exit code`` as subcommand ``name``."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = Command(name, help, add_arguments, run)
        return run

    return register


# --- shared helpers -------------------------------------------------------------------------------


def _print_json(payload: Any) -> None:
    document = json.dumps(payload, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write(json_escaped(document) + "\n")  # bidi/C1 in key names as \uXXXX: same JSON value


def _progress_wanted(args: argparse.Namespace) -> bool:
    """Progress bars only for a person watching: not with --quiet, --json or a redirected stderr."""
    return not (getattr(args, "quiet", False) or getattr(args, "json", False)) and sys.stderr.isatty()


def _open(args: argparse.Namespace, source: str) -> Any:
    """An Analysis of any source the API accepts (live URL, .rdb, RSNAP)."""
    from insightkit.analysis import analyze

    return analyze(source, progress=_progress_wanted(args), **_connection_options(args))


def _connection_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the options the user gave, so that file sources get none."""
    options: dict[str, Any] = {}
    password = getattr(args, "password", None) or os.environ.get(PASSWORD_ENV)
    if password and _is_live_arg(args):
        options["password"] = password
    if getattr(args, "method", "auto") != "auto":
        options["method"] = args.method
    for name in ("timeout", "stall_timeout", "sync_wait"):  # limits of live snapshots: files have none
        if getattr(args, name, None) is not None and _is_live_arg(args):
            options[name] = getattr(args, name)
    for name in ("allocator", "server_version"):  # what an RDB file cannot say about its server
        if getattr(args, name, None) is not None:
            if _is_live_arg(args):
                raise InsightkitError(f"--{name.replace('_', '-')} is for RDB files: a live server says it")
            options[name] = getattr(args, name)
    return options


def _is_live_arg(args: argparse.Namespace) -> bool:
    """Whether one of the command's sources is a live server (an env password applies only there)."""
    from insightkit.sources import is_live

    return any(is_live(getattr(args, name, None)) for name in ("source", "file", "old", "new"))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame → JSON-safe records (NA → null, numpy → Python)."""
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", force_ascii=False))
    return records


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _add_display_flags(parser)


def _add_source(parser: argparse.ArgumentParser, name: str = "source") -> None:
    parser.add_argument(
        name, help="redis://[user:password@]host:port/db, host:port, an .rdb file, or an RSNAP"
    )
    _add_connection_options(parser)


def _count(text: str) -> int:
    """A number of rows: a whole number, 0 or more (checked here, so the error speaks of the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password",
        help=f"server password (visible in `ps`: prefer ${PASSWORD_ENV}, as redis-cli does; without either, "
        "a server answering NOAUTH gets a password prompt when stdin is a terminal)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="live servers: give up when the whole snapshot takes longer than this",
    )
    parser.add_argument(
        "--stall-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="live servers: give up after this long without progress (default 60)",
    )
    parser.add_argument(
        "--sync-wait",
        type=_positive_seconds,
        metavar="SECONDS",
        help="live servers, replica sync: how long the server may take to write its RDB before sending it "
        "(its keepalives are not progress; default 600)",
    )
    parser.add_argument(
        "--method",
        choices=["auto", "sync", "dump"],
        default="auto",
        help="live servers: replica sync, SCAN+DUMP, or auto (sync, falling back to dump)",
    )
    parser.add_argument(
        "--allocator",
        choices=["jemalloc", "jemalloc-16", "libc"],
        help="RDB files: the allocator of the server that wrote it, which a file does not record "
        "(default jemalloc, as Redis and Valkey bundle it; jemalloc-16 for Debian's and Ubuntu's "
        "redis-server, libc for glibc malloc builds); live servers say it in INFO",
    )
    parser.add_argument(
        "--server-version",
        metavar="X.Y",
        help="RDB files: the server version that wrote it, where the file does not say "
        "(memory is estimated the way that version counts it)",
    )


# --- display: width, verbosity, progress (issue 19) -----------------------------------------------


def _add_display_flags(parser: argparse.ArgumentParser) -> None:
    """--wide and -v, in their own block: every subcommand with output flags gets them."""
    parser.add_argument(
        "--wide",
        action="store_true",
        help="do not fit the output to the terminal width (default: $COLUMNS or the terminal, else 80)",
    )
    _add_verbose(parser, default=argparse.SUPPRESS)  # keeps a -v given before the subcommand


def _add_verbose(parser: argparse.ArgumentParser, default: Any = 0) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="log the pipeline steps to stderr (-vv: debug detail)",
    )


def _width(args: argparse.Namespace) -> int | None:
    """The column budget of this run's text output; None with --wide."""
    return terminal_width(getattr(args, "wide", False))


@contextlib.contextmanager
def _logging_to_stderr(verbosity: int) -> Iterator[None]:
    """insightkit's loggers to stderr for one run: warnings always, -v info, -vv debug; put back as
    they were afterwards (``main`` is also called in-process, by tests and scripts)."""
    root = logging.getLogger("insightkit")
    saved = (root.level, root.propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("insightkit: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG)
    root.propagate = False  # one line per record, not a second copy through the root logger
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        root.propagate = saved[1]


@contextlib.contextmanager
def _step(args: argparse.Namespace, desc: str) -> Iterator[None]:
    """A step with no natural counter (rule evaluation): an elapsed-time bar on a terminal once it
    passes a second, and its duration in the log."""
    started = time.monotonic()
    log.info("%s…", desc)  # without a terminal for the bar, this line says what is running
    stop = threading.Event()
    ticker: threading.Thread | None = None
    if _progress_wanted(args):
        from tqdm.auto import tqdm

        bar = tqdm(desc=desc, bar_format="{desc}: {elapsed}", delay=1.0, leave=False, file=sys.stderr)

        def tick() -> None:
            if stop.wait(1.0):  # under a second: no bar at all
                return
            while True:
                bar.update(0)  # prints (honouring delay) and lets close() clear the line
                if stop.wait(0.5):
                    return

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
    try:
        yield
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
            bar.close()
        log.debug("%s: done in %.1f s", desc, time.monotonic() - started)


_ADDRESS_PREFIX = re.compile(r"^[^\s;]+:\d+: (?=[^;]*$)")


def _source_line(metadata: dict[str, Any], width: int | None) -> list[str]:
    """``source: … · method: …`` and, after a fallback, why: what a person needs to trust the numbers."""
    method = str(metadata.get("method") or "?")
    source = metadata.get("source")
    taken = str(metadata.get("original_method") if method == "rsnap" else method)
    if taken in ("sync", "dump"):  # a live server: /0 in its URL is the whole server, not db 0
        db = metadata.get("db")
        source = f"{display_key(source)} ({'every db' if db is None else f'db {db} only'})"
    else:
        source = display_key(source)
    if method == "rsnap":
        where = display_key(metadata.get("rsnap_source") or metadata.get("source"))
        original = metadata.get("original_method") or "?"
        text = f"source: {where} (RSNAP) · snapshot of {source} · method: {original}"
    else:
        text = f"source: {source} · method: {method}"
    server = metadata.get("server")
    if method == "file" and isinstance(server, dict) and server.get("allocator"):
        # a file does not record its server's allocator: the one memory was estimated for (--allocator)
        text += f" · allocator: {display_key(server['allocator'])}"
    reason = metadata.get("fallback_reason")
    if reason:
        # acquire prefixes the node's address; one node is the source just named
        reason = _ADDRESS_PREFIX.sub("", " ".join(str(reason).split()), count=1)
        text += f" (fell back from sync: {escape_text(reason)})"
    return wrap(text, width, indent="  ", first="")


def _snapshot_info(metadata: dict[str, Any]) -> dict[str, Any]:
    """The same as the header line, for --json."""
    keys = ("source", "method", "original_method", "rsnap_source", "fallback_reason")
    return {k: metadata[k] for k in keys if metadata.get(k) is not None}


FINDING_COLUMNS = [
    "rule",
    "severity",
    "category",
    "offending_keys",
    "estimated_savings_bytes",
    "counted_savings_bytes",
    "owner",
    "title",
    "offending_patterns",
    "top_patterns",
    "detail",
    "fix",
]
#: Patterns named under a finding in the text output (all of them are in --json's top_patterns).
SHOWN_PATTERNS = 3
_URGENT = ("critical", "high")


def _ranked(findings: pd.DataFrame) -> pd.DataFrame:
    """Security and high-severity findings first; otherwise the rules engine's order (by saving)."""
    if findings.empty:
        return findings
    severity = findings.get("severity", pd.Series("", index=findings.index)).astype(str)
    category = findings.get("category", pd.Series("", index=findings.index)).astype(str)
    urgent = (category == "security") | severity.isin(_URGENT)
    order = sorted(range(len(findings)), key=lambda i: (not bool(urgent.iloc[i]), i))
    return findings.iloc[order].reset_index(drop=True)


def _prose(text: Any) -> list[str]:
    """Rule text (which may quote key names): its own lines (a fix can be a few commands), every other
    control character escaped."""
    return [escape_text(line.rstrip()) for line in str(text).strip().split("\n") if line.strip()]


def _where(top: Any, count: Any) -> str:
    """``in user:*:session, cart:* and 3 more patterns``: which keys a finding is about (the rest is
    ``Analysis.offenders(rule)`` away); empty for a server-level finding."""
    names = [str(p) for p in top] if top is not None and not isinstance(top, str) else []
    if not names:
        return ""
    shown = [display_key(p) for p in names[:SHOWN_PATTERNS]]
    total = (
        max(int(count), len(names)) if isinstance(count, int | float) and not pd.isna(count) else len(names)
    )
    more = total - len(shown)
    return "in " + ", ".join(shown) + (f" and {plural(more, 'more pattern')}" if more else "")


def render_findings(findings: pd.DataFrame, width: int | None) -> str:
    """Each finding as a short block (title, what it found, its fix), wrapped to ``width``."""
    count = f"{len(findings)} finding" + ("" if len(findings) == 1 else "s")
    lines = [f"Recommendations ({count}, security and high severity first)"]
    if findings.empty:
        lines.append("  nothing to report")
    for number, row in enumerate(findings.to_dict(orient="records"), 1):
        head = f"{number:>2}. [{row.get('severity', '?')}] {display_key(row.get('rule'))}"
        if row.get("owner") and not pd.isna(row["owner"]):
            head += f" ({display_key(row['owner'])})"
        lines.extend(wrap(f"{head} — {display_key(row.get('title'))}", width, indent="    ", first=""))
        facts = [f"{row.get('category', '?')}"]
        keys = row.get("offending_keys") or 0
        facts.append(plural(keys, "key") if keys else "server-level")
        saving = row.get("estimated_savings_bytes") or 0
        if saving:
            facts.append(f"saves ~{human_bytes(saving)}")
        lines.extend(wrap(" · ".join(facts), width, indent="    "))
        where = _where(row.get("top_patterns"), row.get("offending_patterns"))
        if where:
            lines.extend(wrap(where, width, indent="    "))
        counts = f"{plural(keys, 'key')} in {plural(row.get('offending_patterns') or 0, 'pattern')}"
        if row.get("detail") and row["detail"] != counts:  # (the engine's default: said above)
            for part in _prose(row["detail"]):
                lines.extend(wrap(part, width, indent="    "))
        if row.get("fix"):
            for n, part in enumerate(_prose(row["fix"])):
                code = " " * 9 + " " * (len(part) - len(part.lstrip()))  # a fix's own indentation
                lines.extend(wrap(part.lstrip(), width, indent=code, first="    fix: " if n == 0 else code))
    return "\n".join(lines)


# --- analyze --------------------------------------------------------------------------------------


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    _add_source(parser)
    parser.add_argument("-o", "--output", help="write an RSNAP here (e.g. out.rsnap.parquet)")
    parser.add_argument(
        "--redact",
        action="store_true",
        help="hash the variable parts of key names in the RSNAP (random key unless --redact-key or "
        f"${REDACT_KEY_ENV} gives one)",
    )
    parser.add_argument(
        "--redact-key",
        metavar="SECRET",
        help=f"redact with this key, stable across snapshots (implies --redact; ${REDACT_KEY_ENV} keeps it "
        "out of the process list)",
    )
    parser.add_argument(
        "-n", "--top", type=_count, default=10, help="rows of patterns (every finding is always shown)"
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="with -o: write the RSNAP while decoding and analyze it out of core (bounded memory, "
        "for snapshots larger than RAM)",
    )
    _add_output_flags(parser)


def _refuse_overwriting_the_source(source: str, output: str | None) -> None:
    """``analyze dump.rdb -o dump.rdb`` would replace the RDB being read with its RSNAP."""
    if not output or not os.path.exists(output) or not os.path.exists(source):
        return
    if os.path.samefile(source, output):
        raise InsightkitError(f"{output}: is the source being analyzed; write the RSNAP to another path")


@command(
    "analyze", "snapshot/decode a source, print a summary, optionally write an RSNAP", _analyze_arguments
)
def cmd_analyze(args: argparse.Namespace) -> int:
    redact = _redaction(args)
    if redact is not None and not args.output:
        raise InsightkitError("--redact applies to the RSNAP written with -o/--output")
    _refuse_overwriting_the_source(args.source, args.output)
    written: str | None
    extra: dict[str, pd.DataFrame] = {}
    if args.stream:
        if not args.output:
            raise InsightkitError("--stream needs -o/--output: it writes the RSNAP as it decodes")
        written, summary, metadata, extra = _analyze_streaming(args, redact)
    else:
        analysis = _open(args, args.source)
        extra = _findings(args, analysis, args.top)  # first: the summary's savings total needs the rules
        summary, metadata = analysis.summary(), analysis.metadata
        # written last, so a failure in any table above leaves no RSNAP behind
        written = str(analysis.to_rsnap(args.output, redact=redact)) if args.output else None
    if args.json:
        payload = {"source": metadata.get("source"), "snapshot": _snapshot_info(metadata), "rsnap": written}
        payload.update(summary.to_dict())
        payload.update({name: _records(frame) for name, frame in extra.items()})
        _print_json(payload)
    else:
        width = _width(args)
        print("\n".join(_source_line(metadata, width)))
        print(summary.render(width=width))
        if "patterns" in extra:
            print()
            print(render_table(extra["patterns"], title=ANALYZE_TITLES["patterns"], width=width))
        if "recommendations" in extra:
            print()
            print(render_findings(extra["recommendations"], width))
        if written:
            print(f"\nRSNAP written to {display_key(written)}")
    return EXIT_OK


ANALYZE_TITLES = {
    "patterns": "Top patterns by memory",
    "recommendations": "Recommendations (estimated savings)",
}


def _findings(args: argparse.Namespace, analysis: Any, top: int) -> dict[str, pd.DataFrame]:
    """Top patterns and every finding (server-level ones too: they name no keys), when those stages
    are part of this build."""
    out: dict[str, pd.DataFrame] = {}
    try:
        with _step(args, "finding key patterns"):
            patterns = analysis.patterns
    except ImportError:
        return out
    shown: tuple[str, ...] = ("pattern", "owner", "role", "keys", "memory_bytes", "share")
    if "owner" not in patterns.columns or patterns["owner"].isna().all():  # no known library here
        shown = ("pattern", "keys", "memory_bytes", "share")
    columns = [c for c in shown if c in patterns.columns]
    out["patterns"] = patterns.sort_values("memory_bytes", ascending=False).head(top)[columns]
    try:
        with _step(args, "evaluating rules"):
            recommendations = analysis.recommendations
    except ImportError:
        return out
    columns = list(FINDING_COLUMNS)
    if "owner" in recommendations.columns and recommendations["owner"].isna().all():
        columns.remove("owner")
    ranked = _ranked(recommendations)
    out["recommendations"] = ranked[[c for c in columns if c in ranked.columns]]
    return out


def _redaction(args: argparse.Namespace) -> str | bool | None:
    """The ``redact=`` value: a secret from --redact-key or the environment, True, or None."""
    secret = args.redact_key or (os.environ.get(REDACT_KEY_ENV) if args.redact else None)
    if secret:
        return str(secret)
    return True if args.redact else None


def _analyze_streaming(
    args: argparse.Namespace, redact: str | bool | None
) -> tuple[str, Any, Any, dict[str, pd.DataFrame]]:
    """Out of core: keys streamed into the RSNAP (with patterns); every table from DuckDB over it."""
    from insightkit.analysis import analyze

    options = _connection_options(args)
    progress = _progress_wanted(args)
    # A redacted RSNAP is written from an unredacted temporary one: discovery must see real names.
    target = None if redact is not None else args.output
    with analyze(args.source, progress=progress, out_of_core=True, rsnap=target, **options) as analysis:
        try:
            extra = _findings(args, analysis, args.top)  # first: the summary's savings total needs the rules
            summary = analysis.summary()
            written = args.output if target else analysis.to_rsnap(args.output, redact=redact)
        except BaseException:
            if target:  # the RSNAP streamed in while decoding: a failed command must not leave it
                remove_output(target)
            raise
        return str(written), summary, dict(analysis.metadata), extra


# --- summary --------------------------------------------------------------------------------------


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an RSNAP or .rdb file (or a live server URL)")
    _add_connection_options(parser)
    _add_output_flags(parser)


@command("summary", "memory by db, type, encoding and TTL of an RSNAP or .rdb", _summary_arguments)
def cmd_summary(args: argparse.Namespace) -> int:
    analysis = _open(args, args.file)
    with _step(args, "summarizing (the savings total evaluates the rules)"):
        summary = analysis.summary()
    if args.json:
        _print_json({"snapshot": _snapshot_info(analysis.metadata), **summary.to_dict()})
    else:
        width = _width(args)
        print("\n".join(_source_line(analysis.metadata, width)))
        print(summary.render(width=width))
    return EXIT_OK


# --- top ------------------------------------------------------------------------------------------

TOP_COLUMNS = ["db", "key", "type", "encoding", "num_elements", "memory_bytes", "expires_at"]


def _top_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an RSNAP or .rdb file (or a live server URL)")
    _add_connection_options(parser)
    parser.add_argument("-n", type=_count, default=20, help="how many keys (default 20)")
    parser.add_argument(
        "--by", default="memory_bytes", help="numeric column to rank by (default memory_bytes)"
    )
    _add_output_flags(parser)


@command("top", "the biggest keys", _top_arguments)
def cmd_top(args: argparse.Namespace) -> int:
    analysis = _open(args, args.file)
    top = analysis.top(args.n, by=args.by)
    columns = [c for c in TOP_COLUMNS if c in top.columns]
    if args.by not in columns:
        columns.append(args.by)
    width = _width(args)
    if "pattern" in top.columns and (args.json or width is None or width >= 120):
        columns.insert(2, "pattern")  # narrow: the key name matters more than its pattern
    if args.json:
        _print_json(_records(top[columns]))
    else:
        print("\n".join(_source_line(analysis.metadata, width)))
        print(render_table(top[columns], title=f"Top {len(top)} keys by {args.by}", width=width))
    return EXIT_OK


# --- report / diff: delegate to the modules that own them -----------------------------------------


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    _add_source(parser)
    parser.add_argument("-o", "--output", default="insightkit-report.html", help="HTML file to write")
    _add_output_flags(parser)


@command("report", "write a static HTML report", _report_arguments)
def cmd_report(args: argparse.Namespace) -> int:
    analysis = _open(args, args.source)
    with _step(args, "writing the HTML report (rules included)"):
        analysis.to_html(args.output)
    if args.json:
        _print_json({"report": args.output, "snapshot": _snapshot_info(analysis.metadata)})
    else:
        print("\n".join(_source_line(analysis.metadata, _width(args))))
        print(f"report written to {display_key(args.output)}")
    return EXIT_OK


def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", help="the earlier RSNAP (or .rdb)")
    parser.add_argument("new", help="the later RSNAP (or .rdb)")
    parser.add_argument("-n", "--top", type=_count, default=15, help="rows per table (default 15)")
    parser.add_argument("--chart", metavar="PNG", help="also draw the diff chart to this image file")
    _add_output_flags(parser)


@command("diff", "what changed between two snapshots", _diff_arguments)
def cmd_diff(args: argparse.Namespace) -> int:
    try:
        from insightkit.compare import diff
    except ImportError:
        raise InsightkitError("diff is not available in this build") from None
    old, new = _open(args, args.old), _open(args, args.new)
    with _step(args, "comparing the snapshots"):
        result = diff(old, new)
    if args.chart:
        with replaced_atomically(args.chart) as tmp:  # a failed drawing leaves no half-written image
            result.plot(top=args.top).savefig(tmp)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.render(top=args.top, width=_width(args)))
        if args.chart:
            print(f"\nchart written to {args.chart}")
    return EXIT_OK


# --- main -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="insightkit", description="Where your Redis memory goes, and what to do about it."
    )
    parser.add_argument("--version", action="version", version=f"insightkit {__version__}")
    _add_verbose(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for spec in COMMANDS.values():
        spec.add_arguments(sub.add_parser(spec.name, help=spec.help, description=spec.help))
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _run(args: argparse.Namespace) -> int:
    """Run the command; a server asking for a password gets one prompt, only from a person at a
    terminal (never from a script's stdin) and only when no password was given."""
    try:
        return COMMANDS[args.command].run(args)
    except PasswordRequired:
        given = getattr(args, "password", None) or os.environ.get(PASSWORD_ENV)
        if given or not sys.stdin.isatty() or not hasattr(args, "password"):
            raise
        args.password = getpass.getpass("Redis password: ")
        if not args.password:
            raise
        return COMMANDS[args.command].run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``insightkit`` script; returns the exit code.

    SIGTERM and SIGHUP end a command as Ctrl-C does (insightkit.interrupts): the spill, template
    codes and partial RSNAP beside the output are removed and worker threads stopped; the exit code
    is then 128 + the signal's number (143 for SIGTERM), Ctrl-C's 130.
    """
    from insightkit.interrupts import Terminated, terminate_cleanly

    args = build_parser().parse_args(argv)
    try:
        with terminate_cleanly(), _logging_to_stderr(getattr(args, "verbose", 0)):
            return _run(args)
    except Terminated as exc:
        print(f"insightkit: {exc}", file=sys.stderr)
        return exc.exit_code
    except InsightkitError as exc:
        print(f"insightkit: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return EXIT_OK
        print(f"insightkit: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if type(exc).__module__.startswith(("redis.", "valkey.")):  # a client error acquire did not wrap
            print(f"insightkit: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_ERROR
        raise
    except KeyboardInterrupt:
        print("insightkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
