"""The shipped model's card as the field writes one (``docs/model_card.md``): what it is, intended
use, training data and procedure, evaluation with intervals, limitations, how to retrain it,
licence.

The card is made from files, so it cannot disagree with them:

* what the typed card (``assets/default_model.json``, :class:`~blur2vid.models.card.ModelCard`)
  says, rendered by :func:`card_text`;
* what was measured (:func:`measure`, into ``docs/model_card/``): ``blur2vid evaluate`` on the real
  footage and on the capture-like test scenes, and the analyses behind the card's numbers (the
  held-out scenes one by one, the input's noise and the denoiser, the size the network sees a
  photograph at), read back by :func:`measured_text`.

``blur2vid card`` measures what is missing (each step is skipped when its files exist, so a killed
run resumes) and writes the Markdown atomically.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd

from blur2vid.core.io import atomic_write_text, repo_root, save_figure
from blur2vid.models.card import ModelCard
from blur2vid.models.checkpoint import default_model_path

__all__ = ["CARD", "MEASURED", "card_text", "measure", "measured_text", "write_card"]

CARD = Path("docs") / "model_card.md"
"""The card, relative to the checkout."""
MEASURED = Path("docs") / "model_card"
"""Its measurements (tables, figures, ``blur2vid evaluate`` outputs), relative to the checkout."""


def _iv(row: dict[str, float], unit: str = " dB") -> str:
    return f"{row['mean']:+.2f}{unit} [{row['low']:+.2f}, {row['high']:+.2f}]"


def card_text(card: ModelCard) -> str:
    """The sections that come from the typed card alone: the model, intended use, training data and
    procedure, the evaluation made when it shipped, how to retrain it, licence."""
    spec, budget, data = card.spec or {}, card.budget or {}, (card.spec or {}).get("data", {})
    switches = card.data_switches or {}
    lines = ["## The model", "",
             f"An all-frames U-Net (width {spec.get('width')}, depth {spec.get('depth')}) that maps one motion-blurred "
             f"photograph to {data.get('n_frames')} sharp frames, trained with HyperCUT's scheme "
             f"(`{spec.get('scheme')}`: targets played in one canonical order, here `{spec.get('ordering')}`). "
             + ("Its frames are then **held to the photograph** (`match_blur`): moved, all alike per pixel in linear "
                "light, until they re-blur to it exactly. " if card.match_blur else "")
             + "`blur2vid predict PHOTO` runs it without `--checkpoint`; it sees a photograph shrunk to its working "
             "size and enlarges its frames before holding them.", "",
             "## Intended use", "",
             "Research and teaching: a first look at the motion hidden in a blurry photograph, and a baseline to "
             "compare against with `blur2vid evaluate`. Not for forensic or safety decisions: the frames are a "
             "model's guess, and the order of the frames of a blur is ambiguous (Jin et al. 2018, Sec. 4).", "",
             "## Training data", "",
             f"Capture-like scenes rendered on the fly from the images scikit-image ships, {data.get('size')} px "
             f"crops: a moving camera (shake {switches.get('shake')}, rotation up to {switches.get('max_rotation')} "
             f"degrees), up to {switches.get('objects')} moving objects, motion up to {switches.get('max_motion')} px "
             f"over the exposure, camera responses ({switches.get('crf')}), sensor noise "
             f"({switches.get('photons')} photons), JPEG (quality {switches.get('jpeg_quality')}); a share "
             f"{switches.get('still')} of still scenes and {switches.get('clean')} without noise. "
             "No real footage or photograph is trained on; the two that scikit-image ships are kept for evaluation.", "",
             "## Training procedure", "",
             f"`{card.trained_by}`", "",
             f"{card.steps} steps of batch {spec.get('batch')} ({card.samples} samples), learning rate "
             f"{spec.get('lr')}, a budget of {budget.get('minutes')} minutes on {budget.get('processor')}"
             + (f"; fine-tuned from a model trained for {card.fine_tuned_from.get('steps')} steps "
                f"(`{card.fine_tuned_from.get('trained_by')}`)" if card.fine_tuned_from else "") + ".", "",
             "## Evaluation when it shipped", "",
             "Held-out capture-like scenes (64 px; 95% intervals over the scenes; one trained model, so the "
             "interval carries the scenes, not training noise), as `blur2vid predict` runs it"
             + (", and its network alone:" if card.evaluation_network_alone else ":"), ""]
    rows = []
    for name, row in card.evaluation.get("held_out", {}).items():
        alone = (card.evaluation_network_alone or {}).get("held_out", {}).get(name)
        rows.append({"motion": f"{name} (up to {row['max_motion']:g} px)", "scenes": row["scenes"],
                     "middle over the blurry input": _iv(row["middle_over_blur_db"]),
                     "mean pPSNR over the blur copy": _iv(row["mean_over_blur_copy_db"]),
                     **({"network alone, middle": _iv(alone["middle_over_blur_db"])} if alone else {})})
    if rows:
        lines += [pd.DataFrame(rows).to_markdown(index=False), ""]
    video = card.evaluation.get("real_video")
    if video:
        lines += [f"Real footage ({video['file']}, {video['windows']} windows of one video, so no interval): mean "
                  f"pPSNR {video['mean']['mean']:.2f} dB against {video['blur_copy_mean']['mean']:.2f} for the blur "
                  f"copied to every frame ({video['over_blur_copy']['mean']:+.2f} dB), middle frame "
                  f"{video['middle_over_blur']['mean']:+.2f} dB over the blurry input.", ""]
    for photo, row in card.evaluation.get("real_photos", {}).items():
        lines += [f"The real photograph {photo}: its frames differ first to last by {row['first_last_difference']:.2f} "
                  f"levels of 255 (the motion they show); re-blur PSNR {row['reblur_psnr_db']:.2f} dB "
                  + ("(no evidence: held frames re-blur to the photograph by construction)." if card.match_blur else "."),
                  ""]
    lines += ["## How to retrain it", "", "From nothing, on a 2-core CPU (each step resumes if interrupted):", "",
              "```bash", card.retrain.replace(" && ", " &&\n  "), "```", "",
              "## Licence", "", card.licence[0].upper() + card.licence[1:] + ".", ""]
    return "\n".join(lines)


def _steps(folder: Path, device: str, n: int, progress: bool) -> dict[str, Any]:
    """The measurements, by the file that says each is done, and how to make it."""
    from blur2vid.app import evaluate as ev
    from blur2vid.app import shipping
    from blur2vid.experiments.your_own_image import shipped_denoiser, shipped_model
    from blur2vid.reproduction import plots

    @functools.cache
    def shipped():  # read once, and only if a step needs it
        return shipped_model()[0]

    def run_evaluate(footage: str, cfg: ev.EvalConfig) -> None:
        ev.evaluate(footage, ["default"], folder / footage, cfg, progress=progress,
                    command=f"blur2vid evaluate {footage} --out {(MEASURED / footage).as_posix()}"
                    + (" --stride 1" if cfg.stride == 1 else f" --scenes {cfg.n_scenes}"))

    def held_out_gain() -> None:
        scenes = shipping.held_out_scenes(shipped(), n=n, device=device)
        atomic_write_text(folder / "held_out_gain_scenes.csv", scenes.to_csv())
        save_figure(plots.held_out_gain_figure(scenes), folder / "held_out_gain.png")

    def noise() -> None:
        table = shipping.with_denoiser(shipped(), shipped_denoiser(), n=n, device=device)
        atomic_write_text(folder / "with_denoiser.csv", table.to_csv())
        save_figure(plots.noise_figure(table), folder / "with_denoiser.png")

    def scales() -> None:
        table = shipping.held_out_at_scales(shipped(), size=256, motion=48, scales=(1, 2, "auto"),
                                            n=max(4, n // 2), device=device)
        atomic_write_text(folder / "held_out_at_scale_scenes.csv", table.to_csv())
        save_figure(plots.scale_figure(table), folder / "held_out_at_scale.png")

    return {"real/summary.csv": lambda: run_evaluate("real", ev.EvalConfig(stride=1, device=device)),
            "captures/summary.csv": lambda: run_evaluate("captures", ev.EvalConfig(n_scenes=n, device=device)),
            "held_out_gain.png": held_out_gain, "with_denoiser.png": noise, "held_out_at_scale.png": scales}


def measure(folder: str | Path | None = None, device: str = "cpu", n: int = 64, force: bool = False,
            progress: bool = True) -> Path:
    """Make every measurement the card shows into ``folder`` (default ``docs/model_card/`` of the
    checkout), each skipped when its file exists unless ``force``; ``n`` held-out scenes."""
    folder = Path(folder) if folder is not None else repo_root() / MEASURED
    folder.mkdir(parents=True, exist_ok=True)
    for done, make in _steps(folder, device, n, progress).items():
        if force or not (folder / done).is_file():
            make()
    return folder


def _paired(folder: Path, footage: str) -> pd.Series:
    paired = pd.read_csv(folder / footage / "paired.csv")
    return paired[(paired["model"] == "shipped") & (paired["minus"] == "blur copy")].iloc[0]


def _versus(row: pd.Series, column: str) -> str:
    mean, low, high = row[column], row.get(f"{column}_low"), row.get(f"{column}_high")
    if pd.isna(low):
        return f"{mean:+.2f} dB (one sequence: no interval)"
    side = "above" if low > 0 else "below" if high < 0 else "not distinguishable from"
    return f"{mean:+.2f} dB [{low:+.2f}, {high:+.2f}], {side} the blur copy"


def measured_text(folder: str | Path, link: str = "model_card") -> str:
    """The sections made from :func:`measure`'s files in ``folder``: ``blur2vid evaluate``'s
    tables, where the model gains, what the input's noise costs, the working size, and the
    limitations they show; figures linked under ``link``."""
    folder = Path(folder)
    lines = ["## Evaluation with `blur2vid evaluate`", ""]
    for footage, what in (("real", "the real video scikit-image ships, every window of 7 frames (stride 1), "
                                   "blurred by Jin Eq. 1 with the sRGB response"),
                          ("captures", "capture-like test scenes never trained on, each its own sequence")):
        summary = pd.read_csv(folder / footage / "summary.csv", index_col="model")
        row = _paired(folder, footage)
        lines += [f"### {footage}: {what}", "",
                  f"{int(summary.loc['shipped', 'sequences'])} sequence(s), {int(summary.loc['shipped', 'windows'])} "
                  f"window(s). Mean pPSNR over the blur copy: {_versus(row, 'mean')}; middle frame: "
                  f"{_versus(row, 'middle')}. Every convention, with its interval: "
                  f"[`{footage}/summary.md`]({link}/{footage}/summary.md).", "",
                  f"![{footage}: per frame]({link}/{footage}/per_frame.png)", ""]
    scenes = pd.read_csv(folder / "held_out_gain_scenes.csv", index_col="scene")
    lines += ["## Where it gains", "",
              f"The held-out scenes one by one ({len(scenes)} scenes, moderate motion): the middle frame over the "
              f"blurry input against how blurred each scene is. Mean gain {scenes['gain_db'].mean():+.2f} dB; "
              f"held to the noise-free blur instead (an oracle no user has) {scenes['gain_noise_free_db'].mean():+.2f} "
              "dB: the difference is what the input's noise and JPEG cost frames held to it.", "",
              f"![held-out gain]({link}/held_out_gain.png)", ""]
    noise = pd.read_csv(folder / "with_denoiser.csv", index_col="noise level")
    best = noise.drop(index="own", errors="ignore")["moderate"].astype(float).idxmax()
    lines += ["## The input's noise: `--noise`", "",
              "`blur2vid predict --noise LEVEL` holds the frames to the photograph as the shipped denoiser cleans it. "
              f"On the noisy held-out scenes the best level given to every scene is {best} "
              f"({noise.loc[best, 'moderate']:+.2f} dB at moderate motion, against {noise.loc['0', 'moderate']:+.2f} "
              f"without the denoiser); on the clean real footage the mean over the blur copy goes from "
              f"{noise.loc['0', 'video_over_blur_copy']:+.2f} dB at level 0 to "
              f"{noise.loc[best, 'video_over_blur_copy']:+.2f} dB at level {best}: a level above 0 on a clean "
              "photograph is a wrong one. Table: [`with_denoiser.csv`](" + link + "/with_denoiser.csv).", "",
              f"![noise levels]({link}/with_denoiser.png)", ""]
    at = pd.read_csv(folder / "held_out_at_scale_scenes.csv", index_col="scene")
    means = {c.split("s=", 1)[1]: at[c].mean() for c in at.columns if c.startswith("middle s=")}
    lines += ["## The size it sees a photograph at", "",
              f"Held-out capture scenes of 256 px ({len(at)} scenes, motion up to 48 px), the middle frame over the "
              "blurry input when the network sees them at full size (s=1), halved (s=2) and at its working size "
              "(auto, what `blur2vid predict` does): "
              + ", ".join(f"s={k}: {v:+.2f} dB" for k, v in means.items()) + ".", "",
              f"![working size]({link}/held_out_at_scale.png)", ""]
    real = _paired(folder, "real")
    helps = pd.notna(real.get("mean_low")) and real["mean_low"] > 0
    lines += ["## Limitations", "",
              f"- On real footage it is {'better' if helps else 'not yet better'} than copying the blurry photograph "
              f"to every frame (mean pPSNR {_versus(real, 'mean')})"
              + ("" if helps else "; its gains are on scenes like those it was trained on") + ". "
              "It was trained on a 2-core CPU (see *Training procedure*); the paper-scale model waits for GPU training.",
              "- Held frames keep the photograph's noise and JPEG (see *Where it gains*); `--noise` helps only "
              "where the level is right.",
              "- Which way the frames play is a convention (HyperCUT's canonical order), not the true direction "
              "of time: scores here take the better direction per sequence, as the field does.",
              "- Trained on small crops (see *Training data*): a photograph is seen shrunk to the working size, and "
              "its detail is put back by the hold, not recovered.", ""]
    return "\n".join(lines)


def write_card(folder: str | Path | None = None, out: str | Path | None = None, card: ModelCard | None = None,
               link: str = "model_card") -> Path:
    """``docs/model_card.md`` (or ``out``) from the shipped model's card and :func:`measure`'s files."""
    root = repo_root()
    folder = Path(folder) if folder is not None else root / MEASURED
    out = Path(out) if out is not None else root / CARD
    card = card or ModelCard.read(default_model_path().with_suffix(".json"))
    head = ["# Model card: the shipped model", "",
            "Written by `blur2vid card` from `src/blur2vid/assets/default_model.json` and the measurements in "
            f"[`{link}/`]({link}/); edit those, not this file.", ""]
    return atomic_write_text(out, "\n".join(head) + "\n" + card_text(card) + "\n" + measured_text(folder, link))
