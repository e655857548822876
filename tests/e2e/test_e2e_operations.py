"""Operations against real processes: a real Prometheus scraping the hub, health transitions,
graceful shutdown with calls in flight, backup under load, configuration precedence, logs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hubtools import HubProcess, free_port, run_cli

from client_sdk import Client, RetryPolicy, Signal, SignalhubError
from exchange.commands import init_data_dir
from exchange.server import lmdb_path
from exchange.store import Store, StoreTxn
from signalhub import domain


def test_real_prometheus_scrapes_the_hub(tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("the prometheus binary is absent (install Debian's prometheus; .ci/run does)")
    promtool = shutil.which("promtool")
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir, metrics_port=free_port()).start()
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: signalhub\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{hub.metrics_port}']\n"
    )
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        key = hub.add_member("acme", tmp_path)
        with hub.client("acme", key) as client:
            client.submit([Signal("pdq", f"{i:064x}") for i in range(1, 6)])
            client.match_pdq(["00" * 32])
        if promtool:  # the live exposition passes promtool's lint
            text = urllib.request.urlopen(hub.metrics_url, timeout=10).read()
            lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
            assert lint.returncode == 0, lint.stdout + lint.stderr
        query = 'sum(signalhub_signals_submitted_total{type="pdq",result="new"})'
        url = f"http://127.0.0.1:{prom_port}/api/v1/query?query={urllib.parse.quote(query)}"
        deadline = time.monotonic() + 60
        value = None
        while time.monotonic() < deadline:
            try:
                answer = json.loads(urllib.request.urlopen(url, timeout=5).read())
                result = answer["data"]["result"]
                if result:
                    value = float(result[0]["value"][1])
                    if value == 5:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        assert value == 5
        up = json.loads(
            urllib.request.urlopen(
                f"http://127.0.0.1:{prom_port}/api/v1/query?query=signalhub_ready", timeout=5
            ).read()
        )
        assert up["data"]["result"][0]["value"][1] == "1"  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        hub.stop()


ROWS = 4_000_000


def test_health_is_not_serving_while_the_index_loads(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    store = Store(lmdb_path(data_dir), sync=False)

    def fill(tx: StoreTxn) -> None:
        # Enough rows that loading them takes a moment (about a second here): the table is
        # read fast, so a smaller one can load before the first health check connects.
        rows = ((row.to_bytes(8, "big"), row.to_bytes(32, "big") + row.to_bytes(16, "big"))
                for row in range(1, ROWS + 1))  # fmt: skip
        tx.txn.cursor(db=tx.dbs["pdq"]).putmulti(rows, append=True)
        tx.sum_pdq_table()  # the hub checks the table against its sum at start
        tx.set_counter("pdq_rows", ROWS)

    store.write(fill)
    store.close()
    port = free_port()
    hub = HubProcess(data_dir)
    proc_thread = threading.Thread(target=hub.start, args=(port,))
    proc_thread.start()
    seen: list[int] = []
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
            except grpc.RpcError:
                time.sleep(0.005)
                continue
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == health_pb2.HealthCheckResponse.SERVING:
                break
    proc_thread.join()
    try:
        assert seen == [health_pb2.HealthCheckResponse.NOT_SERVING,
                        health_pb2.HealthCheckResponse.SERVING]  # fmt: skip
    finally:
        hub.stop()


def test_sigterm_drains_calls_in_flight_and_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start()
    key = hub.add_member("acme", tmp_path)
    acknowledged: list[str] = []
    stop = threading.Event()

    def ingest(worker: int) -> None:
        client = Client(hub.endpoint, "acme", key, retry=RetryPolicy(attempts=1))
        n = 0
        while not stop.is_set():
            batch_id = f"w{worker}-{n}"
            try:
                client.submit([Signal("pdq", f"{worker:08x}{n:056x}")], batch_id=batch_id)
                acknowledged.append(batch_id)
            except SignalhubError:
                break  # the hub went away: this batch was not acknowledged
            n += 1
        client.close()

    workers = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    assert hub.stop() == 0
    assert '"msg":"stopping"' in "".join(hub.log_lines)
    stop.set()
    for w in workers:
        w.join()
    assert len(acknowledged) > 10
    hub.start()
    try:
        with hub.client("acme", key) as client:
            stored = {e.signal.value for e in client.fetch()}
        for batch_id in acknowledged:
            worker, n = batch_id[1:].split("-")
            assert f"{int(worker):08x}{int(n):056x}" in stored, batch_id
    finally:
        hub.stop()


def test_backup_under_steady_ingest_is_a_consistent_prefix(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start()
    key = hub.add_member("acme", tmp_path)
    stop = threading.Event()

    def ingest() -> None:
        with Client(hub.endpoint, "acme", key) as client:
            n = 0
            while not stop.is_set():
                client.submit([Signal("pdq", f"{n:032x}{i:032x}") for i in range(50)])
                n += 1

    thread = threading.Thread(target=ingest)
    thread.start()
    time.sleep(0.5)
    try:
        out = tmp_path / "backup"
        made = run_cli("admin", "backup", str(out), "--data-dir", str(data_dir), check=True)
        assert "backed up" in made.stdout and (out / "hub.key").exists()
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
        hub.stop()
    verified = run_cli("audit", "verify", "--data-dir", str(out))
    assert verified.returncode == 0, verified.stderr  # opens, chains, replays: nothing torn
    backup = Store(out / "lmdb", readonly=True)
    live = Store(lmdb_path(data_dir), readonly=True)
    try:
        with backup.read() as b, live.read() as a:
            n_backup, n_live = b.counter("feed_seq"), a.counter("feed_seq")
            assert 0 < n_backup <= n_live
            assert b.entries("signals") % 50 == 0  # whole batches only
            prefix = [r.event.cursor for r in b.feed(0, n_backup + 1)]
            assert prefix == [str(i) for i in range(1, n_backup + 1)]
            assert [r.SerializeToString() for r in b.feed(0, n_backup)] == [
                r.SerializeToString() for r in a.feed(0, n_backup)]  # fmt: skip
    finally:
        backup.close()
        live.close()
    # restore: refused over an existing store, then forced; refused while a hub serves it
    target = tmp_path / "restored"
    run_cli("admin", "restore", str(out), "--data-dir", str(target), check=True)
    again = run_cli("admin", "restore", str(out), "--data-dir", str(target))
    assert again.returncode == 1 and "--force" in again.stderr
    restored = HubProcess(target).start()
    try:
        busy = run_cli("admin", "restore", str(out), "--data-dir", str(target), "--force")
        assert busy.returncode == 1 and "stop it first" in busy.stderr
        with restored.client("acme", key) as client:
            assert len(list(client.fetch())) == n_backup
    finally:
        restored.stop()


def test_a_second_hub_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "signalhub", "serve", "--data-dir", str(data_dir),
             "--listen", "127.0.0.1:0",
             "--metrics-listen", "off"], capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode != 0 and "another hub is serving" in second.stderr
    finally:
        hub.stop()


def test_configuration_precedence_flag_env_file(tmp_path: Path) -> None:
    from exchange.config import ConfigError, read_config_file, resolve

    config = tmp_path / "hub.toml"
    config.write_text('data_dir = "/from/file"\nlisten = "127.0.0.1:1111"\n'
                      'metrics_listen = "off"\nclock_skew_seconds = 60\n')  # fmt: skip
    file = read_config_file(config)
    env = {"SIGNALHUB_LISTEN": "127.0.0.1:2222", "SIGNALHUB_CLOCK_SKEW_SECONDS": "90"}
    flags = {"clock_skew_seconds": "120"}
    settings = resolve(flags, env, file)
    assert settings["data_dir"] == Path("/from/file")  # file only
    assert settings["listen"] == "127.0.0.1:2222"  # env beats file
    assert settings["clock_skew_seconds"] == 120  # flag beats env
    assert settings["metrics_listen"] is None and settings["log_format"] == "json"
    (tmp_path / "typo.toml").write_text('data_dir = "/x"\nlisten_addr = "1"\n')
    with pytest.raises(ConfigError, match="listen_addr"):
        read_config_file(tmp_path / "typo.toml")
    with pytest.raises(ConfigError, match="clock_skew_seconds"):
        resolve({"clock_skew_seconds": "-1"}, {}, {"data_dir": "/x"})
    with pytest.raises(ConfigError, match="listen"):
        resolve({}, {"SIGNALHUB_LISTEN": "nonsense"}, {"data_dir": "/x"})


def test_serve_reads_a_toml_file_and_logs_json_without_hash_values(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{data_dir}"\nmetrics_listen = "off"\nlog_format = "json"\n')
    hub = HubProcess(data_dir)
    hub.extra = ("--config", str(config))
    hub.start()
    key = hub.add_member("acme", tmp_path)
    secret = "7f" * 32
    with hub.client("acme", key) as client:
        client.submit([Signal("pdq", secret)])
        client.match_pdq([secret])
        with pytest.raises(SignalhubError):
            client.match([("pdq", "zz")])
    hub.stop()
    lines = [json.loads(line) for line in hub.log_lines if line.startswith("{")]
    calls = [line for line in lines if line.get("msg") == "rpc"]
    assert {c["method"] for c in calls} >= {"SubmitSignals", "MatchHashes", "AddMember"}
    assert all(len(c["request_id"]) == 16 and "duration_ms" in c for c in calls)
    assert len({c["request_id"] for c in calls}) == len(calls)
    text = "".join(hub.log_lines)
    assert secret not in text and domain.signal_id("pdq", secret) not in text


def test_refused_restores_leave_the_target_untouched(tmp_path: Path) -> None:
    source = tmp_path / "source"
    init_data_dir(source)
    backup = tmp_path / "backup"
    run_cli("admin", "backup", str(backup), "--data-dir", str(source), check=True)
    target = tmp_path / "target"
    init_data_dir(target)
    before = (target / "lmdb" / "data.mdb").read_bytes(), (target / "hub.key").read_bytes()
    refused = run_cli("admin", "restore", str(backup), "--data-dir", str(target))
    assert refused.returncode == 1 and "--force" in refused.stderr
    not_a_backup = run_cli("admin", "restore", str(tmp_path), "--data-dir", str(target), "--force")
    assert not_a_backup.returncode == 1 and "not a signalhub backup" in not_a_backup.stderr
    exists = run_cli("admin", "backup", str(backup), "--data-dir", str(source))
    assert exists.returncode == 1 and "exists" in exists.stderr
    after = (target / "lmdb" / "data.mdb").read_bytes(), (target / "hub.key").read_bytes()
    assert after == before
