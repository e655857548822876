"""Reading hash lists (CSV, JSONL, pytx) into signals without a hub: a record's own fields
override the defaults, hash --json lines are taken, and a bad line is named in one message."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from client_sdk.interchange import (
    FormatError,
    InputError,
    RecordDefaults,
    csv_records,
    format_from_name,
    jsonl_records,
    pytx_records,
    read_signals,
    signal_from_record,
)

PDQ = "ab" * 32
MD5 = "0" * 32


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("list.CSV", "csv"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.json", "jsonl"),
        ("a.pytx", "pytx"),
    ],
)
def test_the_format_is_told_from_the_extension(name: str, fmt: str) -> None:
    assert format_from_name(name) == fmt


def test_stdin_and_unknown_extensions_need_a_format_or_a_default() -> None:
    with pytest.raises(InputError, match="reading stdin: say --format"):
        format_from_name("-")
    with pytest.raises(InputError, match=r"a\.txt: cannot tell the format"):
        format_from_name("a.txt")
    assert format_from_name("-", default="jsonl") == format_from_name("a.txt", "jsonl") == "jsonl"


def test_csv_rows_split_their_lists_and_skip_empty_cells() -> None:
    text = (
        f"type,value,labels,tags,score,classifier\npdq,{PDQ},csam|ncii,a; b,0.9,c\nmd5,{MD5},,,,\n"
    )
    rows = list(csv_records(io.StringIO(text)))
    assert rows == [
        (
            2,
            {
                "value": PDQ,
                "score": "0.9",
                "classifier": "c",
                "type": "pdq",
                "labels": ["csam", "ncii"],
                "tags": ["a", "b"],
            },
        ),
        (3, {"value": MD5, "type": "md5"}),
    ]


def test_a_csv_file_needs_a_value_column() -> None:
    with pytest.raises(InputError, match='needs a header with a "value" column'):
        list(csv_records(io.StringIO("x,y\n1,2\n")))


def test_jsonl_skips_blank_lines_and_names_a_bad_one() -> None:
    assert [n for n, _ in jsonl_records(io.StringIO('{"value": "x"}\n\n{"value": "y"}\n'))] == [
        1,
        3,
    ]
    with pytest.raises(InputError, match=r"^line 2: not JSON"):
        list(jsonl_records(io.StringIO('{"value": "x"}\nnope\n')))
    with pytest.raises(InputError, match="line 1: a record is a JSON object"):
        list(jsonl_records(io.StringIO("[1]\n")))


def test_pytx_lines_map_to_hub_types() -> None:
    assert list(pytx_records(io.StringIO(f"pdq {PDQ}\n\nvideo_md5 {MD5}\n"))) == [
        (1, {"type": "pdq", "value": PDQ}),
        (3, {"type": "md5", "value": MD5}),
    ]
    with pytest.raises(FormatError, match="line 1: pytx signal type 'photodna' has no hub type"):
        list(pytx_records(io.StringIO("photodna 00\n")))


def test_a_records_fields_override_the_defaults() -> None:
    defaults = RecordDefaults(type="pdq", labels=("csam",), confidence=5)
    own = signal_from_record("f:1", {"value": PDQ, "labels": "ncii", "confidence": 9}, defaults)
    assert (own.type, own.labels, own.confidence) == ("pdq", ("ncii",), 9)
    given = signal_from_record("f:2", {"value": PDQ}, defaults)
    assert (given.labels, given.confidence) == (("csam",), 5)


def test_a_line_of_hash_json_is_a_pdq_record() -> None:
    signal = signal_from_record(
        "f:1", {"path": "x.jpg", "pdq": PDQ.upper(), "quality": 90}, RecordDefaults()
    )
    assert (signal.type, signal.value) == ("pdq", PDQ)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"type": "pdq"}, 'f:1: a record needs a "value"'),
        ({"value": PDQ}, 'f:1: no signal type; give --type or a "type" field'),
        (
            {"value": PDQ, "type": "pdq", "classifier": "c"},
            "f:1: a classifier verdict needs both the classifier and its score",
        ),
        ({"value": PDQ, "type": "pdq", "expires_at": "soon"}, "f:1: not an ISO 8601 time: 'soon'"),
    ],
)
def test_a_bad_record_is_named_by_file_and_line(record: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as info:
        signal_from_record("f:1", record, RecordDefaults())
    assert str(info.value) == message


def test_read_signals_names_the_file_of_a_pytx_error_and_of_a_missing_file(tmp_path: Path) -> None:
    listing = tmp_path / "bad.pytx"
    listing.write_text(f"pdq {PDQ}\nurl\n")
    with pytest.raises(InputError) as info:
        read_signals(str(listing), "pytx", RecordDefaults())
    assert str(info.value) == f'{listing}:line 2: a pytx line is "<signal type> <value>"'
    with pytest.raises(InputError, match=r"missing\.csv: No such file"):
        read_signals(str(tmp_path / "missing.csv"), "csv", RecordDefaults())
    good = tmp_path / "good.csv"
    good.write_text(f"value,labels\n{PDQ},csam\n")
    (signal,) = read_signals(str(good), "csv", RecordDefaults(type="pdq"))
    assert (signal.type, signal.value, signal.labels) == ("pdq", PDQ, ("csam",))


def test_csv_and_jsonl_carry_source_ref_and_metadata() -> None:
    text = f"value,type,source_ref,meta.queue,meta.site\n{PDQ},pdq,T-1,csam,\n"
    ((_, record),) = list(csv_records(io.StringIO(text)))
    assert record["source_ref"] == "T-1" and record["metadata"] == {"queue": "csam"}
    defaults = RecordDefaults(type="pdq", source_ref="batch", metadata=(("queue", "x"), ("b", "1")))
    signal = signal_from_record("f:2", record, defaults)
    assert (signal.source_ref, signal.metadata) == ("T-1", {"b": "1", "queue": "csam"})
    line = json.dumps({"value": MD5, "source_ref": "T-2", "metadata": {"a": "1"}}) + "\n"
    ((_, record),) = list(jsonl_records(io.StringIO(line)))
    signal = signal_from_record("f:1", record, RecordDefaults(type="md5"))
    assert (signal.source_ref, signal.metadata) == ("T-2", {"a": "1"})
    assert signal.to_wire().metadata == {"a": "1"}


@pytest.mark.parametrize(
    "record",
    [
        {"value": PDQ, "metadata": {"Bad": "v"}},
        {"value": PDQ, "metadata": ["a"]},
        {"value": PDQ, "metadata": {"a": 1}},
        {"value": PDQ, "source_ref": "x" * 129},
    ],
)
def test_a_bad_source_record_is_named_by_file_and_line(record: dict[str, object]) -> None:
    with pytest.raises(InputError, match=r"^f:3: "):
        signal_from_record("f:3", record, RecordDefaults(type="pdq"))
