"""The activities file read block by block (`pipeline.io.blocks`, the Dask engine's workers) gives
the whole-file reader's events and errors: the same ids, times and types whatever the block
size, csv or parquet, and a bad date's line names the file's row, not the block's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.blocks import file_blocks, read_event_block
from pipeline.io.canonical import load_events
from pipeline.io.eventfacts import EventFacts
from pipeline.training.partitions import partition_of, refuse_first_bad_date


def _blocks_events(cfg: Config, block_bytes: int) -> tuple[pd.DataFrame, int]:
    blocks = file_blocks(cfg.data.activities, cfg, block_bytes)
    reads = [read_event_block(b, cfg) for b in blocks]
    ev = pd.concat([r.events for r in reads], ignore_index=True)
    return ev[ev["type"].notna().to_numpy()].reset_index(drop=True), len(blocks)


def _with(cfg: Config, path: Path) -> Config:
    cfg = cfg.model_copy(deep=True)
    cfg.data.activities = str(path)
    return cfg


@pytest.mark.parametrize("block_bytes", [50_000, 333_333, 64 << 20])
def test_blocks_give_the_whole_file_readers_events(sample_config: Config, block_bytes) -> None:
    want = load_events(sample_config)
    got, n = _blocks_events(sample_config, block_bytes)
    assert n >= 1 and (block_bytes > 1e6 or n > 3)  # small blocks: many of them
    pd.testing.assert_frame_equal(got, want)


def test_parquet_row_groups_give_the_whole_file_readers_events(
    sample_config: Config, tmp_path: Path
) -> None:
    raw = pd.read_csv(sample_config.data.activities, dtype=str)
    raw.loc[3, "lead_id"] = raw.loc[3, "lead_id"] + ".0"  # 1000.0 is lead 1000, in every block
    path = tmp_path / "activities.parquet"
    raw.to_parquet(path, row_group_size=7_000)
    cfg = _with(sample_config, path)
    got, n = _blocks_events(cfg, 1)
    assert n > 3
    pd.testing.assert_frame_equal(got, load_events(cfg))


def test_a_bad_date_names_the_files_row_whatever_the_block(
    sample_config: Config, tmp_path: Path
) -> None:
    lines = Path(sample_config.data.activities).read_text().splitlines()
    row = len(lines) - 40  # deep in the file, in a late block
    cells = lines[row - 1].split(",")
    ts_at = lines[0].split(",").index(sample_config.schema.activity.timestamp)
    cells[ts_at] = "31/31/2026"
    lines[row - 1] = ",".join(cells)
    path = tmp_path / "activities.csv"
    path.write_text("\n".join(lines) + "\n")
    cfg = _with(sample_config, path)
    with pytest.raises(DataError) as whole:
        load_events(cfg)
    assert f"row {row}:" in str(whole.value)
    blocks = file_blocks(path, cfg, 40_000)
    reads = [read_event_block(b, cfg) for b in blocks]
    metas = [(r.rows, r.bad_at, r.undecodable, r.bad_value) for r in reads]
    with pytest.raises(DataError) as by_block:
        refuse_first_bad_date(cfg, blocks[0], metas)
    assert str(by_block.value) == str(whole.value)


def test_a_missing_column_is_the_whole_file_readers_line(
    sample_config: Config, tmp_path: Path
) -> None:
    raw = pd.read_csv(sample_config.data.activities, dtype=str)
    path = tmp_path / "activities.csv"
    raw.rename(columns={sample_config.schema.activity.type: "kind"}).to_csv(path, index=False)
    cfg = _with(sample_config, path)
    with pytest.raises(DataError) as whole:
        load_events(cfg)
    with pytest.raises(DataError) as by_block:
        read_event_block(file_blocks(path, cfg)[0], cfg)
    assert str(by_block.value) == str(whole.value)


def test_facts_summed_over_partitions_are_the_whole_ones(sample_config: Config) -> None:
    from pipeline.jobs import load_training_data

    leads, events = load_training_data(sample_config)
    now = pd.Timestamp("2026-10-01")  # some events lie after it: the future count is not 0
    whole = EventFacts.of(events, leads.index, now)
    lp, ep = partition_of(leads.index.to_numpy(), 5), partition_of(events["lead_id"].to_numpy(), 5)
    parts = [EventFacts.of(events[ep == k], leads.index[lp == k], now) for k in range(5)]
    assert EventFacts.merge(parts) == whole
    assert whole.future > 0 and whole.leads_with_events < len(leads)
    assert whole.last == np.datetime64(events["ts"].max())


def test_an_undecodable_byte_is_found_at_its_offset_in_the_file(
    sample_config: Config, tmp_path: Path
) -> None:
    """A cp1252 file read as UTF-8: the block says which byte and where in the file, so the
    caller reads it as cp1252 with the local reader's warning (or names the byte)."""
    text = Path(sample_config.data.activities).read_text()
    at = text.rindex("web_visit")  # late in the file: not in the first block
    text = text[:at] + "wéb_visit" + text[at + len("web_visit") :]
    path = tmp_path / "activities.csv"
    path.write_bytes(text.encode("cp1252"))
    cfg = _with(sample_config, path)
    reads = [read_event_block(b, cfg) for b in file_blocks(path, cfg, 100_000)]
    bad = [r.undecodable for r in reads if r.undecodable is not None]
    assert len(bad) == 1 and reads[0].undecodable is None
    byte, offset = bad[0]
    assert byte == 0xE9 and path.read_bytes()[offset] == 0xE9
    again = [read_event_block(b, cfg) for b in file_blocks(path, cfg, 100_000, "cp1252")]
    got = pd.concat([r.events for r in again], ignore_index=True)
    pd.testing.assert_frame_equal(got[got["type"].notna()].reset_index(drop=True), load_events(cfg))


def test_a_utf16_file_is_one_block_read_as_the_whole_file_reader_does(
    sample_config: Config, tmp_path: Path
) -> None:
    """UTF-16 (a byte-order mark says so) cannot be cut at b"\\n": one block, the whole file."""
    path = tmp_path / "activities.csv"
    path.write_bytes(Path(sample_config.data.activities).read_text().encode("utf-16"))
    cfg = _with(sample_config, path)
    got, n = _blocks_events(cfg, 50_000)
    assert n == 1
    pd.testing.assert_frame_equal(got, load_events(cfg))
