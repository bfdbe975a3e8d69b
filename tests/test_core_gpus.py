"""ecgcmr.core.gpus counts the GPUs the NVIDIA driver lists, as CUDA_VISIBLE_DEVICES narrows them."""

from __future__ import annotations

from ecgcmr.core.gpus import visible_gpus


def _driver(tmp_path, n: int):
    d = tmp_path / "gpus"
    for i in range(n):
        (d / f"0000:{i:02x}:00.0").mkdir(parents=True)
    return d


def test_no_driver_means_no_gpu(tmp_path):
    assert visible_gpus(tmp_path / "absent", env={}) == 0
    assert visible_gpus(tmp_path / "absent", env={"CUDA_VISIBLE_DEVICES": "0,1"}) == 0


def test_the_driver_lists_one_folder_per_gpu(tmp_path):
    d = _driver(tmp_path, 2)
    (d / "not-a-gpu.txt").write_text("")
    assert visible_gpus(d, env={}) == 2


def test_cuda_visible_devices_narrows_the_count(tmp_path):
    d = _driver(tmp_path, 4)
    assert visible_gpus(d, env={"CUDA_VISIBLE_DEVICES": "2"}) == 1
    assert visible_gpus(d, env={"CUDA_VISIBLE_DEVICES": "0, 3"}) == 2
    assert visible_gpus(d, env={"CUDA_VISIBLE_DEVICES": ""}) == 0
    assert visible_gpus(d, env={"CUDA_VISIBLE_DEVICES": "-1"}) == 0
