"""The cluster-mode settings: good values parse, bad ones are refused naming the setting, and a
hub given a bad one refuses to start without touching its store."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubtools import run_cli, store_fingerprint

from exchange.commands import init_data_dir
from exchange.config import ConfigError, resolve


def test_good_cluster_settings_parse() -> None:
    settings = resolve(
        {"data_dir": "/d", "cluster": "nats://a:4222, nats://b:4222", "shard": "1/3"},
        {"SIGNALHUB_SNAPSHOT_INTERVAL": "0", "SIGNALHUB_FOLLOW_STALL_SECONDS": "2.5"},
        {"cluster_replicas": 5},
    )
    assert settings["cluster"] == ["nats://a:4222", "nats://b:4222"]
    assert settings["shard"] == (1, 3) and settings["cluster_replicas"] == 5
    assert settings["snapshot_interval"] == 0.0 and settings["follow_stall_seconds"] == 2.5
    defaults = resolve({"data_dir": "/d"}, {}, {})
    assert defaults["shard"] is None and defaults["cluster"] == []


@pytest.mark.parametrize(
    ("flags", "name"),
    [
        ({"cluster": "http://a:4222"}, "cluster"),
        ({"cluster": "nats://no-port"}, "cluster"),
        ({"shard": "3/3"}, "shard"),
        ({"shard": "1-3"}, "shard"),
        ({"snapshot_interval": "-1"}, "snapshot_interval"),
        ({"follow_stall_seconds": "0"}, "follow_stall_seconds"),
    ],
)
def test_bad_cluster_settings_are_refused_naming_the_setting(
    flags: dict[str, str], name: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"data_dir": "/d", **flags}, {}, {})
    assert name in str(info.value)


def test_a_shard_without_a_cluster_is_refused_and_the_store_untouched(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    before = store_fingerprint(data_dir)
    result = run_cli("serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0",
                     "--metrics-listen", "off", "--shard", "0/2", timeout=60)  # fmt: skip
    assert result.returncode != 0 and "--shard needs --cluster" in result.stderr + result.stdout
    bad = run_cli("serve", "--data-dir", str(data_dir), "--cluster", "ftp://x:1", timeout=60)
    assert bad.returncode != 0 and "cluster" in bad.stderr
    assert store_fingerprint(data_dir) == before


def test_member_slots_refuse_a_members_extra_call_and_give_the_slot_back() -> None:
    import grpc
    import pytest

    from exchange.errors import HubError
    from exchange.limits import MemberSlots

    refused: list[str] = []
    slots = MemberSlots("reports", 1, refused.append)
    with slots.hold("acme"):
        with pytest.raises(HubError) as e, slots.hold("acme"):
            pass
        assert e.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at most 1 reports at once per member" in e.value.message
        with slots.hold("beta"), slots.hold(domain_operator(), is_operator=True):
            assert slots.held("beta") == 1
    assert refused == ["reports"] and slots.held("acme") == 0
    with slots.hold("acme"):  # given back
        assert slots.held("acme") == 1


def domain_operator() -> str:
    from signalhub import domain

    return domain.OPERATOR_ID


def test_a_cost_limiter_lets_one_call_through_a_full_bucket_then_charges_the_debt() -> None:
    import grpc
    import pytest

    from exchange.errors import HubError
    from exchange.limits import CostLimiter

    refused: list[str] = []
    work = CostLimiter("match results", rate=100, burst=1000, refused=refused.append)
    work.check("acme", now=0.0)
    work.charge("acme", 1500, now=0.0)  # one call larger than the burst still went through
    with pytest.raises(HubError) as e:
        work.check("acme", now=1.0)  # 500 in debt, 100 back: 4 s more
    assert e.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert e.value.retry_after_seconds == pytest.approx(4.0)
    work.check("beta", now=1.0)  # another member's share is its own
    work.check("acme", now=5.0)  # paid off
    assert refused == ["match results"]
