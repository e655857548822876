"""Static checks of the operations files in deploy/ (there is no Docker engine or Kubernetes
cluster in CI): every YAML/JSON/TOML file parses, promtool accepts the Prometheus rules, rule
tests and configs, every metric the alerts and the dashboard use exists in the hub, and the
systemd unit, Dockerfile, compose file and Kubernetes manifests have the settings the hub
depends on (gRPC health probes, the data volume, SIGTERM handling, non-root)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from deploytools import rel, yaml_docs, yaml_one

from exchange.config import read_config_file, resolve
from exchange.metrics import HubMetrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "signalhub.json"
K8S = DEPLOY / "k8s"
DOCKER = DEPLOY / "docker"

YAML_FILES = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
JSON_FILES = sorted(DEPLOY.rglob("*.json"))
GRPC_PORT, METRICS_PORT = 50051, 9464
ALERTS = {
    "SignalhubWarningProposalsWaiting",
    "SignalhubSignalQuarantined",
    "SignalhubDown",
    "SignalhubIngestStopped",
    "SignalhubHighErrorRatio",
    "SignalhubMatchLatencyHigh",
    "SignalhubAuthFailureSpike",
    "SignalhubLmdbMapNearlyFull",
    "SignalhubNotReady",
    "SignalhubClusterApplyLag",
    "SignalhubStoreCorrupt",
    "SignalhubMatchSweep",
}
NO_PROMTOOL = "promtool not found: install Debian's prometheus package; .ci/run does"


def _promtool(*args: str, cwd: Path = ROOT) -> str:
    if shutil.which("promtool") is None:
        pytest.skip(NO_PROMTOOL)
    done = subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


# --- every file parses --------------------------------------------------------------------


def test_the_deploy_directory_has_the_expected_files() -> None:
    expected = [
        "README.md",
        "prometheus/prometheus.yml",
        "prometheus/alerts.yml",
        "prometheus/alerts_test.yml",
        "grafana/dashboards/signalhub.json",
        "grafana/provisioning/dashboards.yml",
        "grafana/provisioning/datasources.yml",
        "systemd/signalhub.service",
        "systemd/signalhub.toml",
        "docker/Dockerfile",
        "docker/docker-compose.yml",
        "docker/.dockerignore",
        "docker/Dockerfile.dockerignore",
        "k8s/namespace.yaml",
        "k8s/configmap.yaml",
        "k8s/statefulset.yaml",
        "k8s/service.yaml",
    ]
    missing = [name for name in expected if not (DEPLOY / name).is_file()]
    assert not missing


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_yaml_file_parses(path: Path) -> None:
    assert yaml_docs(path), f"{rel(path)} is empty"


@pytest.mark.parametrize("path", JSON_FILES, ids=rel)
def test_json_file_parses(path: Path) -> None:
    assert json.loads(path.read_text())


def test_readme_describes_every_file() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.name != "README.md"):
        assert str(path.relative_to(DEPLOY)) in readme, f"README.md does not mention {path}"


# --- configuration files of the hub --------------------------------------------------------


def _check_hub_config(path: Path) -> dict[str, Any]:
    """The file is accepted by the hub's own config loader (unknown keys, bad values)."""
    return resolve({}, {}, read_config_file(path))


def test_systemd_example_config_is_valid() -> None:
    settings = _check_hub_config(DEPLOY / "systemd" / "signalhub.toml")
    assert settings["data_dir"] == Path("/var/lib/signalhub")


def test_k8s_configmap_config_is_valid(tmp_path: Path) -> None:
    (config_map,) = yaml_docs(K8S / "configmap.yaml")
    path = tmp_path / "signalhub.toml"
    path.write_text(config_map["data"]["signalhub.toml"])
    settings = _check_hub_config(path)
    assert settings["listen"] == f"0.0.0.0:{GRPC_PORT}"
    assert settings["metrics_listen"] == f"0.0.0.0:{METRICS_PORT}"


# --- Prometheus ------------------------------------------------------------------------------


def test_promtool_check_rules() -> None:
    assert "SUCCESS" in _promtool("check", "rules", rel(PROM / "alerts.yml"))


def test_promtool_test_rules() -> None:
    assert "SUCCESS" in _promtool("test", "rules", rel(PROM / "alerts_test.yml"))


def test_promtool_check_config() -> None:
    assert "SUCCESS" in _promtool("check", "config", rel(PROM / "prometheus.yml"))


def test_promtool_check_compose_prometheus_config(tmp_path: Path) -> None:
    # Mounted next to alerts.yml in the container: rebuild that layout.
    shutil.copy(DOCKER / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    assert "SUCCESS" in _promtool("check", "config", "prometheus.yml", cwd=tmp_path)


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml_one(PROM / "alerts.yml")["groups"] for rule in group["rules"]]


def test_alerts_are_complete() -> None:
    rules = _rules()
    assert {r["alert"] for r in rules} == ALERTS
    readme = (DEPLOY / "README.md").read_text().lower()
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
        anchor = annotations["runbook"].partition("#")[2]
        assert f"### {anchor}" in readme, f"README.md has no section for {rule['alert']}"


def test_alert_unit_tests_cover_firing_and_quiet_cases() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml_one(PROM / "alerts_test.yml")["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    required = {
        "SignalhubDown",
        "SignalhubIngestStopped",
        "SignalhubLmdbMapNearlyFull",
        "SignalhubAuthFailureSpike",
        "SignalhubClusterApplyLag",
        "SignalhubWarningProposalsWaiting",
        "SignalhubSignalQuarantined",
    }
    assert required <= firing & quiet


def test_prometheus_scrapes_the_hub() -> None:
    config = yaml_one(PROM / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "signalhub"]
    assert job["static_configs"][0]["targets"] == [f"localhost:{METRICS_PORT}"]


# --- metric names ---------------------------------------------------------------------------

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def _hub_metric_names() -> set[str]:
    names = {"up"}
    for family in HubMetrics().registry.collect():
        names.update(family.name + s for s in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


_METRIC_PREFIXES = ("signalhub_", "process_", "python_")
_PROMQL_WORDS = re.compile(r"(?<![\w\"'{=~.$])[a-zA-Z_:][a-zA-Z0-9_:]*")


def _metrics_in(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label values and strings are quoted, so only
    prefixed identifiers and `up` can be metric names)."""
    words = set(_PROMQL_WORDS.findall(re.sub(r'"[^"]*"', '""', expr)))
    return {w for w in words if w.startswith(_METRIC_PREFIXES) or w == "up"}


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(var["definition"])
    return exprs


def test_metric_name_extraction() -> None:
    expr = 'sum by (le) (rate(signalhub_rpc_duration_seconds_bucket{code!~"OK|up"}[5m])) and up'
    assert _metrics_in(expr) == {"signalhub_rpc_duration_seconds_bucket", "up"}


def test_alerts_use_only_metrics_the_hub_exports() -> None:
    known = _hub_metric_names()
    for rule in _rules():
        used = _metrics_in(rule["expr"])
        assert used, f"{rule['alert']} uses no hub metric"
        assert used <= known, f"{rule['alert']}: unknown {sorted(used - known)}"


def test_alert_tests_use_only_metrics_the_hub_exports() -> None:
    known = _hub_metric_names()
    for case in yaml_one(PROM / "alerts_test.yml")["tests"]:
        for series in case["input_series"]:
            name = series["series"].partition("{")[0]
            assert name in known, f"{case['name']}: unknown metric {name}"


def test_dashboard_uses_only_metrics_the_hub_exports() -> None:
    known = _hub_metric_names()
    exprs = _dashboard_exprs()
    assert exprs
    for expr in exprs:
        used = _metrics_in(expr)
        assert used, f"no hub metric in {expr}"
        assert used <= known, f"unknown {sorted(used - known)} in {expr}"


# --- Grafana --------------------------------------------------------------------------------


def test_dashboard_is_provisioning_ready() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "signalhub"
    assert "id" not in dashboard or dashboard["id"] is None
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    all_exprs = " ".join(_dashboard_exprs())
    for metric in (
        "signalhub_rpc_requests_total",
        "signalhub_rpc_duration_seconds_bucket",
        "signalhub_signals_submitted_total",
        "signalhub_matches_total",
        "signalhub_index_signals",
        "signalhub_auth_failures_total",
        "signalhub_store_bytes",
        "signalhub_store_map_bytes",
        "signalhub_feed_sequence",
        "signalhub_ready",
    ):
        assert metric in all_exprs, f"no panel shows {metric}"


def test_grafana_provisioning_matches_compose_mounts() -> None:
    provider = yaml_one(DEPLOY / "grafana" / "provisioning" / "dashboards.yml")["providers"][0]
    (grafana,) = [yaml_one(DOCKER / "docker-compose.yml")["services"]["grafana"]]
    targets = {v.split(":")[1] for v in grafana["volumes"]}
    assert provider["options"]["path"] in targets
    datasource = yaml_one(DEPLOY / "grafana" / "provisioning" / "datasources.yml")
    assert datasource["datasources"][0]["type"] == "prometheus"


# --- systemd --------------------------------------------------------------------------------


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_unit() -> None:
    service = _unit(DEPLOY / "systemd" / "signalhub.service")["Service"]
    (exec_start,) = service["ExecStart"]
    argv = exec_start.split()
    assert argv[:2] == ["/opt/signalhub/.venv/bin/signalhub", "serve"]
    assert argv[2:] == ["--config", "/etc/signalhub/signalhub.toml"]
    assert service["Type"] == ["simple"]
    assert service["User"] == ["signalhub"]
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert int(service["TimeoutStopSec"][0]) >= 20  # the hub's own grace period is 10 s
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["PrivateTmp"] == ["yes"]
    assert "/var/lib/signalhub" in service["ReadWritePaths"][0].split()
    config = tomllib.loads((DEPLOY / "systemd" / "signalhub.toml").read_text())
    assert config["data_dir"] == "/var/lib/signalhub"


# --- Docker ---------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [
        line
        for line in (DOCKER / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    out: list[tuple[str, str]] = []
    for logical in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines():
        if logical.strip():
            instruction, _, args = logical.strip().partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def _no_latest(image: str) -> None:
    name = image.split("@")[0]
    tag = name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""
    assert tag and tag != "latest", f"{image} needs a pinned tag"


def test_dockerfile() -> None:
    instructions = _dockerfile()
    args = {
        k: v
        for instruction, a in instructions
        if instruction == "ARG" and "=" in a
        for k, v in [a.split("=", 1)]
    }
    froms = [a.split()[0] for i, a in instructions if i == "FROM"]
    assert len(froms) >= 2, "a builder stage and a runtime stage"
    for image in froms:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert resolved.startswith("python:3.11-slim")
        _no_latest(resolved)
    runs = " ".join(a for i, a in instructions if i == "RUN")
    assert "build-essential" in runs
    (user,) = [a for i, a in instructions if i == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    exposed = {p for i, a in instructions if i == "EXPOSE" for p in a.split()}
    assert {str(GRPC_PORT), str(METRICS_PORT)} <= exposed
    (healthcheck,) = [a for i, a in instructions if i == "HEALTHCHECK"]
    assert "grpc_health" in healthcheck and str(GRPC_PORT) in healthcheck
    assert ("VOLUME", "/var/lib/signalhub") in instructions
    (entrypoint,) = [a for i, a in instructions if i == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["signalhub", "serve"]
    for instruction, a in instructions:
        if instruction == "COPY" and not a.startswith("--from"):
            for source in a.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_dockerignore_files_agree_and_keep_secrets_out() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text()
    assert (DOCKER / ".dockerignore").read_text() == ignore
    patterns = [line for line in ignore.splitlines() if line and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: .signalhub/ (keys) and .venv/ stay out"


def test_compose_file() -> None:
    compose = yaml_one(DOCKER / "docker-compose.yml")
    services = compose["services"]
    assert {"hub", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        _no_latest(service["image"])
        build = service.get("build")
        if build:
            context = (DOCKER / build["context"]).resolve()
            assert context == ROOT
            assert (context / build["dockerfile"]).is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"
    hub = services["hub"]
    assert hub["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert "signalhub init" in " ".join(services["init"]["command"])
    assert hub["stop_grace_period"] == "30s"


# --- Kubernetes -----------------------------------------------------------------------------


def _statefulset() -> dict[str, Any]:
    (sts,) = yaml_docs(K8S / "statefulset.yaml")
    assert sts["kind"] == "StatefulSet"
    return dict(sts)


def test_k8s_manifests_share_a_namespace() -> None:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml_docs(path):
            assert doc["apiVersion"] and doc["kind"], rel(path)
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == "signalhub", rel(path)


def test_statefulset_probes() -> None:
    pod = _statefulset()["spec"]["template"]["spec"]
    (hub,) = pod["containers"]
    readiness, liveness, startup = (
        hub["readinessProbe"],
        hub["livenessProbe"],
        hub["startupProbe"],
    )
    assert readiness["grpc"] == {"port": GRPC_PORT, "service": "signalhub.v1.Exchange"}
    assert liveness["grpc"] == {"port": GRPC_PORT, "service": ""}
    assert startup["grpc"]["port"] == GRPC_PORT
    # long index loads: at least 10 minutes before liveness takes over
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    ports = {p["containerPort"] for p in hub["ports"]}
    assert ports == {GRPC_PORT, METRICS_PORT}
    assert pod["terminationGracePeriodSeconds"] >= 20


def test_statefulset_data_volume_and_init(tmp_path: Path) -> None:
    sts = _statefulset()
    assert sts["spec"]["replicas"] == 1
    pod = sts["spec"]["template"]["spec"]
    (hub,) = pod["containers"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    (config_map,) = yaml_docs(K8S / "configmap.yaml")
    config = tmp_path / "signalhub.toml"
    config.write_text(config_map["data"]["signalhub.toml"])
    data_dir = resolve({}, {}, read_config_file(config))["data_dir"]

    def mount(container: dict[str, Any], volume: str) -> Path:
        (path,) = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume]
        return Path(path)

    data_mount = mount(hub, claim["metadata"]["name"])
    assert data_dir == data_mount or data_mount in data_dir.parents
    # the config file the hub is started with is the ConfigMap's
    config_volume = next(v for v in pod["volumes"] if "configMap" in v)
    assert config_volume["configMap"]["name"] == config_map["metadata"]["name"]
    config_path = mount(hub, config_volume["name"]) / "signalhub.toml"
    assert hub["args"] == ["--config", str(config_path)]
    # the init container initialises that data directory, only when it is not yet one
    (init,) = pod["initContainers"]
    assert mount(init, claim["metadata"]["name"]) == data_mount
    script = " ".join(init["command"] + init["args"])
    assert "signalhub init" in script and str(data_dir) in script
    assert "operator.key" in script and "if " in script
    assert init["image"] == hub["image"]
    _no_latest(hub["image"])


def test_statefulset_runs_as_non_root() -> None:
    pod = _statefulset()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"] + pod["initContainers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context.get("runAsUser", pod["securityContext"]["runAsUser"]) != 0
        assert container["resources"]["requests"] and container["resources"]["limits"]


def test_service_ports_and_scrape_annotations() -> None:
    services = {d["metadata"]["name"]: d for d in yaml_docs(K8S / "service.yaml")}
    service = services["signalhub"]
    assert {p["port"] for p in service["spec"]["ports"]} == {GRPC_PORT, METRICS_PORT}
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(METRICS_PORT)
    assert _statefulset()["spec"]["serviceName"] in services
    selector = service["spec"]["selector"]
    labels = _statefulset()["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
