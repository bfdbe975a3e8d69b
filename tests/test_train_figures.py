"""Figure 2 carries an amplitude scale: every lead on one y scale, a round mV bar."""

from __future__ import annotations

import numpy as np
from matplotlib import image

from ecgcmr.train import figures


def test_scale_bar_is_a_round_third_of_the_span():
    assert figures.scale_bar_mv(3.0) == 1.0
    assert figures.scale_bar_mv(1.2) == 0.5
    assert figures.scale_bar_mv(0.2) == 0.1
    assert figures.scale_bar_mv(40.0) == 5.0


def test_reconstruction_figure_draws_the_bar_on_shared_axes(tmp_path, monkeypatch):
    seen = {}
    real_close = figures.plt.close

    def keep(fig):   # inspect the figure before it is closed
        seen["axes"] = fig.axes
        real_close(fig)

    monkeypatch.setattr(figures.plt, "close", keep)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.5, (12, 1000))
    figures.plot_reconstruction(x, x * 0.9, np.zeros((12, 1000), bool), tmp_path / "f2.png", title="t")
    axes = seen["axes"]
    assert len({ax.get_ylim() for ax in axes}) == 1                       # one amplitude scale
    assert any(t.get_text().endswith(" mV") for t in axes[0].texts)
    assert image.imread(tmp_path / "f2.png").std() > 0.05
