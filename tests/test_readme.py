"""The README quotes no number by hand: its findings and gallery are written from the reference run's
files (``figures/``) by ``make reproduce``, and this checks that what is committed is what those files
say, and that the prose outside them holds no measurement."""

import re
from pathlib import Path

import pytest

from blur2vid.reproduction import registry

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _block(text: str, start: str, end: str) -> str:
    assert start in text and end in text, f"README.md: the markers {start} ... {end} are missing"
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def test_the_findings_are_what_the_claims_tables_say():
    text = README.read_text()
    assert _block(text, registry.FINDINGS_START, registry.FINDINGS_END) == \
        registry.findings_markdown(ROOT / "figures").strip("\n")
    assert len(registry.FINDINGS) <= 10


def test_the_gallery_is_what_the_figures_say():
    text = README.read_text()
    assert _block(text, registry.GALLERY_START, registry.GALLERY_END) == \
        registry.gallery_markdown(ROOT / "figures").strip("\n")


def _prose(text: str) -> str:
    """The README without its generated blocks, code, and link targets."""
    for start, end in ((registry.FINDINGS_START, registry.FINDINGS_END), (registry.GALLERY_START, registry.GALLERY_END)):
        head, rest = text.split(start, 1)
        text = head + rest.split(end, 1)[1]
    text = re.sub(r"(?s)```.*?```", "", text)
    text = re.sub(r"`[^`]*`", "", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def test_the_prose_quotes_no_measurement():
    numbers = re.findall(r"[+\-−]?\d+\.\d+|\d+(?:\.\d+)?\s*(?:dB|x\b|s\b|minutes|ms)", _prose(README.read_text()))
    assert not numbers, f"README.md quotes {numbers} outside its generated blocks: put them in a file the README is written from"


def test_a_quoted_claim_reads_its_value_interval_and_verdict(tmp_path):
    claims = registry.load_claims(ROOT / "figures")
    key = "jin.tab2.middle_beats_nah"
    row = claims.loc[key]
    assert registry._quoted(row) == f"{row['value']:+.2f} dB [{row['low']:+.2f}, {row['high']:+.2f}] ({row['verdict']})"
    (tmp_path / "jin_claims.csv").write_text(claims.drop(index=key).reset_index().to_csv(index=False))
    with pytest.raises(KeyError, match=key):
        registry.findings_markdown(tmp_path)


def test_the_readme_is_short_and_keeps_what_code_reads():
    text = README.read_text()
    assert len(text.encode()) <= 13_000, "README.md: keep it to about 12 KB; details go to docs/"
    assert "\n## What reproduced\n" in text  # the book's front page takes its findings from this section
