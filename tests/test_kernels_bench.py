"""host/bench.py end to end on the committed tables (few clips): the JSON contract of `make bench`
(its Cortex-M0+ object included) and the instruction bars of DESIGN.md section 4 for the full-depth
inference and the binary kernels."""
from __future__ import annotations

import json

import pytest

from host import bench
from model.facts import HOP, SAMPLE_RATE
from model.paths import data_dir

pytestmark = pytest.mark.timeout(300)


def test_bench_json_contract(tmp_path, capsys):
    png = tmp_path / "layers.png"
    assert bench.main(["--clips", "3", "--stream-keywords", "6", "--png", str(png)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    # without the shared data the bench says, on stderr and in the JSON, that its audio is generated
    root = data_dir()
    generated = root is None or not (root / "speech_commands_v2_dev").is_dir()
    assert result["generated_audio"] is generated
    assert ("the clips and the stream are GENERATED audio" in captured.err) is generated
    assert result["clips_source"].startswith("generated") is generated
    for key in ("instructions_full", "instructions_avg_exit", "instructions_per_layer", "frontend_instructions_per_hop",
                "binary_macs_per_instruction", "weights_bytes", "flash_bytes", "ram_bytes", "clips_source", "size_source"):
        assert key in result, key
    layers = result["instructions_per_layer"]
    assert set(layers) >= {"stem", "block0", "exit0"}
    assert result["instructions_full"] <= 2_000_000
    assert abs(sum(layers.values()) - result["instructions_full"]) < 0.02 * result["instructions_full"]
    assert result["binary_macs_per_instruction"]["optimized"] >= 2.0
    assert result["binary_macs_per_instruction"]["reference"] < result["binary_macs_per_instruction"]["optimized"]
    assert 0 < result["instructions_avg_exit"] <= result["instructions_full"] * 1.01
    assert png.is_file() and png.stat().st_size > 1000
    m0 = result["cortex_m0plus"]  # the same model on the Cortex-M0+, plain-C kernels
    assert m0["instructions_full"] > result["instructions_full"] and m0["frontend_instructions_per_hop"] > 0
    assert 0 < m0["instructions_avg_exit"] <= m0["instructions_full"] * 1.01
    per_hop = m0["frontend_instructions_per_hop"] + m0["instructions_full"] / m0["infer_every_hops"]
    assert m0["instructions_per_second_of_audio_full_depth"] == pytest.approx(per_hop * SAMPLE_RATE / HOP, abs=1)
    assert m0["milliseconds_full"] == pytest.approx(m0["instructions_full"] / (m0["clock_mhz"] * 1e3), abs=0.01)
    # the firmware itself on a stream: the committed "same"-padded model runs the window runtime every 4 hops
    assert (result["stream_runtime"], result["stream_infer_every_hops"]) == ("window", 4)
    fe, per_inference = result["frontend_instructions_per_hop"], result["instructions_per_inference_stream"]
    assert result["instructions_per_second_of_audio"] == pytest.approx((fe + per_inference / 4) * SAMPLE_RATE / HOP, rel=0.05)
    assert per_inference <= result["instructions_per_inference_stream_max"] <= result["instructions_full"] * 1.1
    assert result["instructions_per_inference_stream_max"] < result["instructions_worst_inference"] \
        < result["instructions_per_inference_stream_max"] + 2 * fe
    assert (tmp_path / "instructions_over_stream.png").stat().st_size > 1000


def test_generated_audio_follows_the_shared_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BITEAR_DATA", str(tmp_path))
    assert bench.generated_audio()
    (tmp_path / "speech_commands_v2_dev").mkdir()
    assert not bench.generated_audio()
