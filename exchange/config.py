"""The hub's settings, from a TOML file, the environment and flags.

Precedence, highest first: command-line flag, environment variable, config file (`--config`,
or SIGNALHUB_CONFIG), built-in default. Unknown keys in the file are refused, so a typo is
never silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signalhub import domain


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it and where it came from."""


@dataclass(frozen=True)
class Setting:
    """One setting: its name in the file, its environment variable, its type and default."""

    name: str
    env: str
    parse: Callable[[Any], Any]
    default: Any
    help: str


def _path(value: Any) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise ValueError("a path is a non-empty string")
    return Path(value)


def _address(value: Any) -> str:
    text = str(value)
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"HOST:PORT expected, got {text!r}")
    return text


def _metrics_address(value: Any) -> str | None:
    return None if str(value) in ("", "off") else _address(value)


def _positive(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a number expected")
        number = kind(value)
        if number <= 0:
            raise ValueError("must be positive")
        return number

    return parse


def _non_negative(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a number expected")
        number = kind(value)
        if number < 0:
            raise ValueError("must not be negative")
        return number

    return parse


def _fraction(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a number expected")
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError("a fraction from 0 to 1 expected")
    return number


def _on_off(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise ValueError("on or off expected")


def _nats_servers(value: Any) -> list[str]:
    """nats://host:port[,nats://host:port...] (an empty value: single-node mode)."""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    servers = [v.strip() for v in str(value).split(",") if v.strip()]
    for server in servers:
        scheme, sep, rest = server.partition("://")
        if scheme not in ("nats", "tls") or not sep or ":" not in rest:
            raise ValueError(f"{server!r} is not nats://HOST:PORT")
    return servers


def _shard(value: Any) -> tuple[int, int] | None:
    """I/K: this node indexes shard I of K (0 <= I < K); empty: the whole index."""
    text = str(value).strip()
    if not text:
        return None
    first, sep, second = text.partition("/")
    if not (sep and first.isdigit() and second.isdigit()):
        raise ValueError("I/K expected, e.g. 0/3")
    i, k = int(first), int(second)
    if not 0 <= i < k or k > 1024:
        raise ValueError("0 <= I < K <= 1024 required")
    return i, k


def _log_format(value: Any) -> str:
    if value not in ("json", "text"):
        raise ValueError("json or text")
    return str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "SIGNALHUB_DATA_DIR", _path, None, "the hub's data directory"),
    Setting("listen", "SIGNALHUB_LISTEN", _address, "127.0.0.1:50051", "gRPC HOST:PORT"),
    Setting(
        "metrics_listen",
        "SIGNALHUB_METRICS_LISTEN",
        _metrics_address,
        "127.0.0.1:9464",
        "Prometheus HOST:PORT, or off",
    ),
    Setting("tls_cert", "SIGNALHUB_SERVER_TLS_CERT", _path, None, "server certificate (PEM)"),
    Setting("tls_key", "SIGNALHUB_SERVER_TLS_KEY", _path, None, "server key (PEM)"),
    Setting(
        "tls_client_ca",
        "SIGNALHUB_TLS_CLIENT_CA",
        _path,
        None,
        "CA whose client certificates are required (mTLS; a call must be signed as "
        "the member its certificate's CN names)",
    ),
    Setting(
        "clock_skew_seconds",
        "SIGNALHUB_CLOCK_SKEW_SECONDS",
        _positive(int),
        domain.REPLAY_WINDOW_SECONDS,
        "allowed distance of timestamps from the hub's clock",
    ),
    Setting(
        "audit_head_interval",
        "SIGNALHUB_AUDIT_HEAD_INTERVAL",
        _positive(float),
        60.0,
        "seconds between signed audit heads",
    ),
    Setting(
        "expiry_interval",
        "SIGNALHUB_EXPIRY_INTERVAL",
        _positive(float),
        60.0,
        "seconds between expiry checks",
    ),
    Setting("log_format", "SIGNALHUB_LOG_FORMAT", _log_format, "json", "json or text logs"),
    Setting(
        "rate_limit",
        "SIGNALHUB_RATE_LIMIT",
        _non_negative(float),
        1000.0,
        "calls a second per member (0 = no limit)",
    ),
    Setting(
        "rate_burst",
        "SIGNALHUB_RATE_BURST",
        _positive(float),
        2000.0,
        "calls a member may make at once above its rate",
    ),
    Setting(
        "max_message_bytes",
        "SIGNALHUB_MAX_MESSAGE_BYTES",
        _positive(int),
        domain.MAX_MESSAGE_BYTES,
        "largest gRPC message accepted",
    ),
    Setting(
        "max_batch_signals",
        "SIGNALHUB_MAX_BATCH_SIGNALS",
        _positive(int),
        domain.MAX_BATCH_SIGNALS,
        "most signals in one batch (at most 10000)",
    ),
    Setting(
        "max_store_bytes",
        "SIGNALHUB_MAX_STORE_BYTES",
        _non_negative(int),
        0,
        "largest the LMDB map may grow (0 = as far as the disk allows)",
    ),
    Setting(
        "max_concurrent_rpcs",
        "SIGNALHUB_MAX_CONCURRENT_RPCS",
        _non_negative(int),
        1000,
        "calls served at once; more are refused RESOURCE_EXHAUSTED (0 = no limit)",
    ),
    Setting(
        "keepalive_seconds",
        "SIGNALHUB_KEEPALIVE_SECONDS",
        _positive(float),
        60.0,
        "interval of HTTP/2 keepalive pings to idle clients",
    ),
    Setting(
        "match_results_rate",
        "SIGNALHUB_MATCH_RESULTS_RATE",
        _non_negative(float),
        5000.0,
        "matches (and linked signals) a second one member's answers may carry on average "
        "(0 = no limit)",
    ),
    Setting(
        "match_results_burst",
        "SIGNALHUB_MATCH_RESULTS_BURST",
        _positive(float),
        50000.0,
        "matches one member may get in a burst (any one call within it goes through)",
    ),
    Setting(
        "match_budget_per_day",
        "SIGNALHUB_MATCH_BUDGET_PER_DAY",
        _non_negative(int),
        1_000_000,
        "queries (hashes asked, GetSignal lookups) one member may make a UTC day, counted "
        "per node (0 = unlimited; docs/match-only.md)",
    ),
    Setting(
        "sweep_misses_per_hour",
        "SIGNALHUB_SWEEP_MISSES_PER_HOUR",
        _non_negative(int),
        100_000,
        "queries matching nothing in an hour that make a member sweeping (0 = no detector)",
    ),
    Setting(
        "sweep_min_miss_fraction",
        "SIGNALHUB_SWEEP_MIN_MISS_FRACTION",
        _fraction,
        0.99,
        "...when they are also at least this share of its queries in that hour",
    ),
    Setting(
        "sweep_throttle",
        "SIGNALHUB_SWEEP_THROTTLE",
        _on_off,
        False,
        "on: refuse a sweeping member's queries (RESOURCE_EXHAUSTED) for the cooldown",
    ),
    Setting(
        "sweep_cooldown_seconds",
        "SIGNALHUB_SWEEP_COOLDOWN_SECONDS",
        _positive(float),
        3600.0,
        "how long sweep_throttle refuses a sweeping member's queries",
    ),
    Setting(
        "max_follows_per_member",
        "SIGNALHUB_MAX_FOLLOWS_PER_MEMBER",
        _non_negative(int),
        16,
        "following FetchUpdates streams one member may hold at once (0 = no limit)",
    ),
    Setting(
        "max_snapshots_per_member",
        "SIGNALHUB_MAX_SNAPSHOTS_PER_MEMBER",
        _non_negative(int),
        2,
        "GetSnapshot streams one member may hold at once (each spools one snapshot)",
    ),
    Setting(
        "max_reports_per_member",
        "SIGNALHUB_MAX_REPORTS_PER_MEMBER",
        _non_negative(int),
        1,
        "GetMemberReport calls one member may have in flight (reports replay the log)",
    ),
    Setting(
        "follow_stall_seconds",
        "SIGNALHUB_FOLLOW_STALL_SECONDS",
        _positive(float),
        30.0,
        "a feed subscriber that reads nothing this long is disconnected (and resumes)",
    ),
    Setting(
        "cluster",
        "SIGNALHUB_CLUSTER",
        _nats_servers,
        [],
        "NATS servers of a cluster (nats://HOST:PORT,...): the log is a JetStream stream",
    ),
    Setting(
        "cluster_replicas",
        "SIGNALHUB_CLUSTER_REPLICAS",
        _positive(int),
        3,
        "JetStream replicas of the log stream (cluster mode)",
    ),
    Setting(
        "snapshot_interval",
        "SIGNALHUB_SNAPSHOT_INTERVAL",
        _non_negative(float),
        3600.0,
        "seconds between snapshots of the store for new nodes (cluster mode; 0 = never)",
    ),
    Setting(
        "shard",
        "SIGNALHUB_SHARD",
        _shard,
        None,
        "I/K: index only shard I of K (I from 0), match by asking every shard (cluster)",
    ),
    Setting(
        "match_count_interval",
        "SIGNALHUB_MATCH_COUNT_INTERVAL",
        _positive(float),
        5.0,
        "seconds between logged match counts (what quarantine and review notices count)",
    ),
    Setting(
        "quarantine_ratio",
        "SIGNALHUB_QUARANTINE_RATIO",
        _non_negative(float),
        20.0,
        "quarantine a signal whose matches this hour exceed this many times its baseline "
        "(0 = never quarantine)",
    ),
    Setting(
        "quarantine_min_matches_per_hour",
        "SIGNALHUB_QUARANTINE_MIN_MATCHES_PER_HOUR",
        _non_negative(int),
        50,
        "and exceed this many matches at other members than its submitters",
    ),
    Setting(
        "quarantine_baseline_hours",
        "SIGNALHUB_QUARANTINE_BASELINE_HOURS",
        _positive(int),
        24,
        "hours before the current one whose mean rate is the baseline (at most 672)",
    ),
    Setting(
        "review_window_days",
        "SIGNALHUB_REVIEW_WINDOW_DAYS",
        _positive(int),
        90,
        "how far back a false positive or an upheld appeal asks matching members to review "
        "(at most 365)",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings of a TOML file (a flat table of the names above)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        known = ", ".join(BY_NAME)
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {known}")
    return data


def resolve(
    flags: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any]
) -> dict[str, Any]:
    """Every setting's value by precedence (flag, environment, file, default), parsed."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        for source, value in (
            ("flag", flags.get(s.name)),
            (s.env, env.get(s.env)),
            ("config file", file.get(s.name)),
        ):
            if value is not None and value != "":
                try:
                    out[s.name] = s.parse(value)
                except (ValueError, TypeError) as e:
                    raise ConfigError(f"{s.name} (from {source}): {e}") from None
                break
        else:
            out[s.name] = s.default
    if out["max_batch_signals"] > domain.MAX_BATCH_SIGNALS:
        raise ConfigError(f"max_batch_signals is at most {domain.MAX_BATCH_SIGNALS}")
    if out["data_dir"] is None:
        raise ConfigError("data_dir is required (--data-dir, SIGNALHUB_DATA_DIR or the file)")
    return out
