"""The registry against the notebooks: every saved output is registered, every registered output is saved."""

import json
import re
from pathlib import Path

import pandas as pd

from blur2vid import paper
from blur2vid.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]


def _saved_stems() -> dict[str, set[str]]:
    out = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        stems = set(re.findall(r'run\.save\([^\n]*?"([a-z0-9_]+)"', src))
        for slug in re.findall(r'\(\s*"[^"]+",\s*"([a-z0-9_]+)"\s*\)', src):  # f"..._{slug}" loops
            stems |= {s.replace("{slug}", slug) for s in re.findall(r'f"([a-z0-9_]+\{slug\})"', src)}
        out[path.stem] = stems
    return out


def test_every_saved_output_is_registered_and_every_registered_output_is_saved():
    saved = _saved_stems()
    registered = {s: item.notebook for item in paper.REGISTRY for s in item.outputs}
    for notebook, stems in saved.items():
        for stem in stems - {"paper_summary"}:
            assert stem in registered, f"{notebook} saves {stem!r}, which no registry item lists"
            assert registered[stem] == notebook, f"{stem!r} is registered to {registered[stem]}, saved by {notebook}"
    all_saved = set().union(*saved.values())
    for stem, notebook in registered.items():
        assert stem in all_saved, f"registry item output {stem!r} ({notebook}) is saved by no notebook"


def test_every_item_names_an_existing_notebook_and_the_papers_numbers():
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert {item.notebook for item in paper.REGISTRY if item.outputs} <= notebooks
    assert {nb for nb in notebooks if nb[:2].isdigit()} <= set(PROFILES["cpu"])
    keys = [item.key for item in paper.REGISTRY]
    assert len(keys) == len(set(keys))
    assert all(item.paper_value for item in paper.REGISTRY)


def test_verdicts_read_the_saved_tables(tmp_path):
    pd.DataFrame({"margin_db": [1.0, -0.5], "reproduced": [True, False]},
                 index=["Fig. 4: a beats b", "Fig. 4: c beats d"]).to_csv(tmp_path / "jin_claims.csv")
    ours, verdict = next(i for i in paper.REGISTRY if i.key == "jin_fig4").verdict(tmp_path)
    assert verdict == "direction only" and "+1.00 dB" in ours
    table = paper.summary_table(tmp_path)
    assert table.loc["Jin 2018: Table 2", "verdict"] == "not run"


def test_missing_and_stray_files(tmp_path):
    (tmp_path / "jin_fig2_ambiguity.png").write_bytes(b"")
    (tmp_path / "stray.png").write_bytes(b"")
    (tmp_path / "manifest.json").write_text("{}")
    assert paper.unregistered_files(tmp_path) == ["stray.png"]
    assert "jin_fig2" in paper.missing_outputs(tmp_path)  # the identities table is missing
    assert "jin_fig2_ambiguity" not in paper.missing_outputs(tmp_path)["jin_fig2"]


def test_gallery_is_spliced_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{paper.GALLERY_START}\nold\n{paper.GALLERY_END}\noutro\n")
    assert paper.update_readme_gallery(readme, tmp_path)
    text = readme.read_text()
    assert "old" not in text and "| paper item |" in text and text.endswith("outro\n")


def test_a_failed_premise_overrides_the_margins(tmp_path):
    """Rankings of networks that did not learn the task are not evidence: with the premise row below
    the threshold the Fig. 4 item is 'not reproduced' whatever the other margins, and says why."""
    index = ["Fig. 4 premise: the networks beat copying", "Fig. 4: a beats b", "Fig. 5: c beats d"]
    claims = pd.DataFrame({"margin_db": [0.02, 1.0, 0.5]}, index=index)
    claims.to_csv(tmp_path / "jin_claims.csv")
    fig4 = next(i for i in paper.REGISTRY if i.key == "jin_fig4")
    fig5 = next(i for i in paper.REGISTRY if i.key == "jin_fig5")
    for item in (fig4, fig5):
        ours, verdict = item.verdict(tmp_path)
        assert verdict == "not reproduced" and ours.startswith("premise failed") and "+0.02 dB" in ours
    claims.loc[index[0], "margin_db"] = 0.5
    claims.to_csv(tmp_path / "jin_claims.csv")
    assert fig4.verdict(tmp_path)[1] == "reproduced" and fig5.verdict(tmp_path)[1] == "reproduced"
