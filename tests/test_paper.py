"""The registry: verdicts read from the saved claims tables by id, and the files it expects."""

from pathlib import Path

import pandas as pd

from blur2vid.core import published
from blur2vid.experiments.claims import claims_table, fact, margin_claim
from blur2vid.reproduction import registry

ROOT = Path(__file__).resolve().parents[1]


def _item(key: str) -> registry.PaperItem:
    return next(i for i in registry.REGISTRY if i.key == key)


def _write(folder: Path, stem: str, claims) -> None:
    claims_table(claims).to_csv(folder / f"{stem}.csv")


def test_every_item_names_an_existing_notebook_and_the_papers_numbers():
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert {item.notebook for item in registry.REGISTRY if item.outputs} <= notebooks
    keys = [item.key for item in registry.REGISTRY]
    assert len(keys) == len(set(keys))
    assert all(item.paper_value for item in registry.REGISTRY)


def test_the_papers_numbers_are_quoted_from_published():
    """The registry's text is made from the tables of blur2vid.core.published, not typed in again: the
    Purohit baseline's mean is the mean of its seven frames (25.48 dB)."""
    assert _item("jin_tab2").paper_value == published.jin_table2_text()
    text = _item("hypercut_ppsnr_purohit").paper_value
    mean = published.HYPERCUT_PPSNR.loc["Purohit (REDS)", [f"F{k}" for k in range(1, 8)]].mean()
    assert f"{mean:.2f}" in text and f"{published.HYPERCUT_PPSNR.loc['Purohit + HyperCUT (REDS)', 'mean']:.2f}" in text


def test_verdicts_read_the_claims_by_id(tmp_path):
    _write(tmp_path, "jin_claims", [
        margin_claim("jin.fig4.premise", "premise: networks learned", 0.5, kind="premise"),
        margin_claim("jin.fig4.sequential_beats_independent", "Fig. 4: a", 1.0),
        margin_claim("jin.fig4.pair_beats_global", "Fig. 4: b", -0.5),
        margin_claim("jin.fig4.middle_input_helps_pair", "Fig. 4: c", -0.5),
        margin_claim("jin.fig4.sequential_beats_pair", "Fig. 4: d", -0.5),
        margin_claim("jin.fig4.teacher_forcing_beats_sequential", "Fig. 4: e", -0.5),
    ])
    ours, verdict = _item("jin_fig4").verdict(tmp_path)
    assert verdict == "partly reproduced" and "a: +1.00 dB [+1.00, +1.00] (reproduced)" in ours
    assert "b: -0.50 dB [-0.50, -0.50] (contradicted)" in ours
    table = registry.summary_table(tmp_path)
    assert table.loc["Jin 2018: Table 2", "verdict"] == "not run"  # its claims are not in the file


def test_a_premise_not_shown_overrides_the_margins(tmp_path):
    """Rankings of networks that did not learn the task are not evidence: with the premise's
    interval straddling zero, Fig. 4 and Fig. 5 are 'not shown' whatever the other margins, and say why."""
    claims = [margin_claim("jin.fig4.premise", "Fig. 4 premise: the networks beat copying", [-0.1, 0.14],
                           kind="premise"),
              *(margin_claim(i, f"Fig. 4: {i}", 1.0) for i in _item("jin_fig4").verdict.claim_ids[1:]),
              margin_claim("jin.fig5.gt_middle_helps", "Fig. 5: c beats d", 0.5)]
    _write(tmp_path, "jin_claims", claims)
    for key in ("jin_fig4", "jin_fig5"):
        ours, verdict = _item(key).verdict(tmp_path)
        assert verdict == "not shown" and ours.startswith("premise not shown") and "+0.02 dB" in ours
    claims[0] = margin_claim("jin.fig4.premise", "Fig. 4 premise: the networks beat copying", 0.5, kind="premise")
    _write(tmp_path, "jin_claims", claims)
    assert _item("jin_fig4").verdict(tmp_path)[1] == "reproduced" == _item("jin_fig5").verdict(tmp_path)[1]


def test_references_never_count_and_facts_do(tmp_path):
    ids = _item("hypercut_ppsnr_purohit").verdict.claim_ids
    _write(tmp_path, "hypercut_claims", [*(margin_claim(i, f"U-Net: {i}", -1.0) for i in ids),
                                         margin_claim("hypercut.ppsnr.unet.reference.motion_rule", "ref", 5.0,
                                                      kind="reference")])
    assert _item("hypercut_ppsnr_purohit").verdict(tmp_path)[1] == "contradicted"
    _write(tmp_path, "losses_claims", [fact(i, i, True) for i in _item("jin_eq4_eq5").verdict.claim_ids])
    ours, verdict = _item("jin_eq4_eq5").verdict(tmp_path)
    assert verdict == "reproduced" and "held" in ours


def test_missing_and_stray_files(tmp_path):
    (tmp_path / "jin_fig2_ambiguity.png").write_bytes(b"")
    (tmp_path / "stray.png").write_bytes(b"")
    (tmp_path / "manifest.json").write_text("{}")
    assert registry.unregistered_files(tmp_path) == ["stray.png"]
    assert "jin_fig2" in registry.missing_outputs(tmp_path)  # the identities table is missing
    assert "jin_fig2_ambiguity" not in registry.missing_outputs(tmp_path)["jin_fig2"]


def test_gallery_is_spliced_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{registry.GALLERY_START}\nold\n{registry.GALLERY_END}\noutro\n")
    assert registry.update_readme_gallery(readme, tmp_path)
    text = readme.read_text()
    assert "old" not in text and "| paper item |" in text and text.endswith("outro\n")


def test_load_claims_concatenates_every_claims_file(tmp_path):
    _write(tmp_path, "a_claims", [fact("x.one", "one", True)])
    _write(tmp_path, "b_claims", [margin_claim("x.two", "two", [-0.1, 0.2])])
    claims = registry.load_claims(tmp_path)
    assert list(claims.index) == ["x.one", "x.two"] and claims["holds"].tolist() == [True, False]
    assert isinstance(claims, pd.DataFrame)


def test_threshold_items_keep_their_words_and_every_item_names_its_rule(tmp_path):
    """Table 3 (timings) has no interval: 'direction only' when some of its claims hold; the
    summary names the rule of each item."""
    from blur2vid.experiments.claims import threshold_claim

    ids = _item("jin_tab3").verdict.claim_ids
    _write(tmp_path, "jin_claims", [threshold_claim(ids[0], "a", 3.0, above=1.0), threshold_claim(ids[1], "b", 3.0, above=1.0),
                                    threshold_claim(ids[2], "c", 3.0, above=5.0),
                                    margin_claim("jin.tab2.middle_beats_nah", "Table 2: m", [0.2, 0.3, 0.25]),
                                    margin_claim("jin.tab2.nah_better_on_large_blur", "Table 2: n", [0.2, 0.3])])
    assert _item("jin_tab3").verdict(tmp_path)[1] == "direction only"
    assert _item("jin_tab2").verdict(tmp_path)[1] == "reproduced"
    table = registry.summary_table(tmp_path)
    assert table.loc["Jin 2018: Table 3", "rule"] == "threshold"
    assert table.loc["Jin 2018: Table 2", "rule"].startswith("95% interval, two-level bootstrap over 1 training seed")
    assert table.loc["Jin 2018: Table 1", "rule"].startswith("fixed")


def test_pooled_files_belong_to_their_table(tmp_path):
    for name in ("jin_fig4_ablation.csv", "jin_fig4_ablation_scenes.csv", "jin_fig4_ablation_per_seed.csv",
                 "jin_claims_evidence.csv", "hypercut_seed_spread.png"):
        (tmp_path / name).write_text("")
    assert registry.unregistered_files(tmp_path) == []
