"""Training runs (evaluate.train_seeds) are names: run 0 is the plain name, so results
made before training runs stay valid, and run k's name parses back to (base, k)."""

import re

import pytest

from ecgcmr import specs


def test_run_names_round_trip_and_run_zero_is_the_plain_name():
    assert specs.run_name("dual_phase", 0) == "dual_phase"
    assert specs.run_names(["baseline", "vit_tiny"], 2) == ["baseline", "baseline_trainseed1",
                                                            "vit_tiny", "vit_tiny_trainseed1"]
    for name in ("dual_phase", "2d_time_trainseed3", "vit_tiny_trainseed12"):
        assert specs.run_name(*specs.split_run(name)) == name
    with pytest.raises(ValueError):
        specs.run_name("tiny", -1)


def test_the_wildcard_pattern_takes_every_run_of_exactly_its_bases():
    p = re.compile(specs.run_pattern(["tiny", "small"]))
    assert all(p.fullmatch(n) for n in ("tiny", "small_trainseed2", "tiny_trainseed10"))
    # run 0 has one name only, and no other size sneaks in
    assert not any(p.fullmatch(n) for n in ("tiny_trainseed0", "base", "tiny_trainseed", "tinyx"))


def test_run_k_trains_with_the_stage_seed_plus_k():
    train = {"lr": 1e-3, "seed": 7}
    assert specs.seeded(train, 0) is train and specs.seeded(train, 2) == {"lr": 1e-3, "seed": 9}
