"""RecBole atomic-file reader on a tiny fixture; typed headers, streaming, bad input."""

from __future__ import annotations

import pytest

from instructrec_jax.data import DataFormatError, PrepareConfig, load_raw, prepare
from instructrec_jax.data.readers.recbole import RecBoleReader, parse_header


def test_reads_items_and_interactions(recbole_prefix):
    raw = load_raw("recbole", path=str(recbole_prefix))
    assert raw.name == "recbole-tiny"
    assert raw.items["11"].title == "Amélie"
    assert raw.items["10"].categories == ("Comedy", "Drama")
    assert raw.items["12"].attributes == {"year": "1992"}
    events = list(raw.interactions)
    assert len(events) == 36 - 7  # pairs with (u + i) % 5 == 4 are absent
    first = events[0]
    assert (first.user_id, first.item_id, first.rating) == ("1", "10", 1.0)
    assert first.timestamp == 880000000
    assert list(raw.interactions) == events


def test_prepared_dataset_from_recbole(recbole_prefix):
    dataset = prepare(
        load_raw("recbole", path=recbole_prefix), PrepareConfig(k_core=3, num_negatives=1)
    )
    assert dataset.stats["raw_interactions"] == 29
    for example in dataset.test:
        assert example.negatives[0] not in dataset.sequences[example.user_id].item_ids


def test_wrong_field_count_names_file_and_line(recbole_prefix):
    inter = recbole_prefix.with_name("tiny.inter")
    lines = inter.read_text().splitlines()
    lines.insert(4, "7\t10\t3")
    inter.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"tiny\.inter:5: expected 4 tab-separated fields"):
        list(load_raw("recbole", path=recbole_prefix).interactions)
    lenient = load_raw("recbole", path=recbole_prefix, skip_bad_lines=True)
    assert len(list(lenient.interactions)) == 29
    assert lenient.bad_lines == {str(inter): 1}


def test_bad_number_is_a_bad_line(recbole_prefix):
    inter = recbole_prefix.with_name("tiny.inter")
    inter.write_text(inter.read_text() + "9\t10\t4\tyesterday\n")
    with pytest.raises(DataFormatError, match=r"tiny\.inter:31: bad number"):
        list(load_raw("recbole", path=recbole_prefix).interactions)


def test_infinite_timestamp_is_a_bad_line(recbole_prefix):
    inter = recbole_prefix.with_name("tiny.inter")
    inter.write_text(inter.read_text() + "9\t10\t4\tinf\n")
    with pytest.raises(DataFormatError, match=r"tiny\.inter:31: bad number"):
        list(load_raw("recbole", path=recbole_prefix).interactions)
    lenient = load_raw("recbole", path=recbole_prefix, skip_bad_lines=True)
    assert len(list(lenient.interactions)) == 29  # the 29 good lines of the fixture
    assert lenient.bad_lines == {str(inter): 1}


def test_header_problems_are_named(recbole_prefix, tmp_path):
    with pytest.raises(DataFormatError, match="not NAME:TYPE"):
        parse_header(tmp_path / "x.inter", "user_id:token\titem_id")
    item = recbole_prefix.with_name("tiny.item")
    item.write_text("item_id:token\tcolour:token\n10\tred\n")
    with pytest.raises(DataFormatError, match=r"tiny\.item:1: no field among \['title'"):
        RecBoleReader(recbole_prefix).read()
    inter = recbole_prefix.with_name("tiny.inter")
    inter.write_text("user_id:token\titem_id:token\n1\t10\n")
    with pytest.raises(DataFormatError, match="no field 'timestamp'"):
        list(RecBoleReader(recbole_prefix, title_field="colour").read().interactions)


def test_missing_files_and_optional_columns(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.inter"):
        RecBoleReader(tmp_path / "nothing")
    (tmp_path / "bare.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu\ti\t5\n")
    (tmp_path / "bare.item").write_text("item_id:token\ttitle:token_seq\ni\tOnly Title\n")
    raw = RecBoleReader(tmp_path / "bare").read()
    assert raw.items["i"].categories == () and dict(raw.items["i"].attributes) == {}
    (event,) = list(raw.interactions)
    assert event.rating is None and event.timestamp == 5


def test_a_byte_order_mark_is_accepted(recbole_prefix):
    expected = list(load_raw("recbole", path=recbole_prefix).interactions)
    for suffix in (".inter", ".item"):
        path = recbole_prefix.with_name(f"tiny{suffix}")
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    raw = load_raw("recbole", path=recbole_prefix)
    assert list(raw.interactions) == expected
    assert raw.items["11"].title == "Amélie"


def test_an_empty_file_is_named(recbole_prefix):
    inter = recbole_prefix.with_name("tiny.inter")
    inter.write_text("")
    with pytest.raises(DataFormatError, match=r"tiny\.inter:1: empty file"):
        list(load_raw("recbole", path=recbole_prefix).interactions)
