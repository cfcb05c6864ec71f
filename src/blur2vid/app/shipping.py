"""The model shipped with the package (``assets/default_model.pt``): how a model is measured before
it ships, and how a ``blur2vid train`` run becomes the shipped model with its card
(``assets/default_model.json``).

``blur2vid ship RUN_FOLDER`` (also spelt ``python -m blur2vid.shipping``, as the committed cards'
retrain commands do) measures the run's ``model.pt`` (:func:`evaluate`) and, with ``--install``,
writes it and its card (:class:`~blur2vid.models.card.ModelCard`) into the package's assets.  The card holds the command
that trained it, its data switches and budget, what it was measured on, and its licence, so
anyone can retrain and re-measure it.

What a model is measured on (none of it seen in training):

* **real footage**: 7-frame windows (one frame apart) of scikit-image's ``no_time_for_that_tiny.gif``,
  blurred by Jin Eq. 1, scored by ``blur2vid evaluate`` (:func:`blur2vid.app.evaluate.score_footage`):
  pPSNR over copying the blur to every frame, all frames and the middle one;
* **real photographs**: re-blur PSNR and the motion the frames show;
* **held-out capture-like scenes** at the training size, at full motion (24 px over the exposure)
  and moderate motion (12 px): the middle frame over the blurry input and the mean over the blur
  copy, each with a 95% bootstrap interval over the scenes (one trained model: the interval carries
  the scenes, not training noise).

The noise-level denoiser (``assets/default_denoiser.pt``, what ``blur2vid predict --noise`` holds
the frames to) is measured with the shipped model by :func:`with_denoiser`, at several levels
given for every scene and at each scene's own level, on the held-out scenes (which are noisy) and
the real footage (which is clean: any level above 0 is a wrong one there); ``blur2vid ship RUN``
of a ``blur2vid train --preset denoiser`` run measures and installs it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from blur2vid.app.evaluate import BLUR_COPY, EvalConfig, open_footage, score_footage
from blur2vid.app.predict import load_predictor
from blur2vid.core.formation import match_blur
from blur2vid.core.metrics import capped, psnr
from blur2vid.core.tensors import batched
from blur2vid.data.config import CAPTURES, DataConfig
from blur2vid.experiments import real
from blur2vid.experiments.intervals import hierarchical_bootstrap
from blur2vid.experiments.tables import blur_copy_ppsnr, over_blur_copy
from blur2vid.models.card import ModelCard
from blur2vid.models.checkpoint import (
    default_denoiser_path,
    default_model_path,
    load_model,
    read_model_file,
    save_model,
)
from blur2vid.models.denoise import denoise_batched, noise_level
from blur2vid.models.inference import predict_frames
from blur2vid.models.match_blur import MatchBlur, held_as_noted
from blur2vid.training.denoiser import denoiser_notes

__all__ = ["LICENCE", "RETRAIN", "DENOISER_RETRAIN", "MOTIONS", "NOISE_LEVELS", "held_out", "held_out_scenes", "held_out_at_scales", "on_real_footage",
           "intervals", "by_motion", "evaluate", "with_denoiser", "retrain_command", "card", "install",
           "install_denoiser", "ship"]

LICENCE = ("weights: MIT, as the code of blur2vid; trained only on images that ship with scikit-image "
           "(skimage/data/README.txt gives each image's source and licence), never on clock_motion.png or "
           "no_time_for_that_tiny.gif, which are kept for evaluation")
RETRAIN = ("blur2vid train --preset unet-captures --out results/train/default && "
           "blur2vid ship results/train/default --install")
"""How the shipped model is remade (an hour on a 2-core CPU)."""
DENOISER_RETRAIN = ("blur2vid train --preset denoiser --out results/train/denoiser && "
                    "blur2vid ship results/train/denoiser --install")
"""How the shipped denoiser is remade (50 minutes' budget on a 2-core CPU)."""
MOTIONS = {"full": 24.0, "moderate": 12.0}
"""The held-out scenes' motion over the exposure (pixels at 64 px): the training maximum, and half."""
NOISE_LEVELS = (0.0, 1.0, 2.0, 4.0, 6.0)
"""The noise levels (8-bit levels, ``blur2vid predict --noise``) a denoiser is measured at."""


def _interval(values: torch.Tensor) -> dict[str, float]:
    iv = hierarchical_bootstrap([values.double().cpu().numpy()])
    return {"mean": round(iv.estimate, 2), "low": round(iv.low, 2), "high": round(iv.high, 2)}


def held_out(model: nn.Module, size: int = 64, n: int = 64, motion: float = 24.0, device="cpu") -> dict[str, Any]:
    """``n`` held-out capture-like scenes of ``size`` pixels whose content moves by up to ``motion``
    pixels (every scene's share of it drawn as in training): the middle frame over the blurry input
    and the mean pPSNR over the blur copied to every frame, with 95% intervals over the scenes."""
    test = DataConfig(family=CAPTURES, size=size, max_shift=motion).test_set(n, device, "shipping")
    gain = over_blur_copy(batched(model.to(device), test.blur, 16, clamp=True), test.frames, test.blur)
    return {"scenes": n, "size": size, "max_motion": motion,
            "middle_over_blur_db": _interval(gain[:, gain.shape[1] // 2]),
            "mean_over_blur_copy_db": _interval(gain.mean(1))}


def held_out_scenes(model: nn.Module, size: int = 64, n: int = 64, motion: float = 12.0, device="cpu"
                    ) -> pd.DataFrame:
    """Scene by scene, the held-out scenes of :func:`held_out`: how blurred each is (``blur_db``, the
    middle frame's pPSNR for the blur copied to every frame: low where much moved), how noisy its
    input is (``input_db``, the blurry input against the same blur without sensor noise and JPEG),
    the model's middle frame over the blurry input (``gain_db``; its mean is the card's number) and
    the same network's frames held to the noise-free blur instead (``gain_noise_free_db``: an oracle
    no user has, which says what the noise and JPEG of the input cost frames held to it)."""
    test = DataConfig(family=CAPTURES, size=size, max_shift=motion).test_set(n, device, "shipping")
    net = model.net if isinstance(model, MatchBlur) else model
    raw = batched(net.eval().to(device), test.blur, 16, clamp=True).float()
    frames, blur, clean = test.frames.float(), test.blur.float(), test.meta["blur_clean"].float()
    shown = model.hold(raw, blur) if isinstance(model, MatchBlur) else raw
    mid = frames.shape[1] // 2

    def gain(pred: torch.Tensor) -> np.ndarray:
        return over_blur_copy(pred, frames, blur)[:, mid].cpu().numpy()

    return pd.DataFrame({"blur_db": blur_copy_ppsnr(blur, frames)[:, mid].cpu().numpy(),
                         "input_db": capped(psnr(blur, clean)).cpu().numpy(),
                         "gain_db": gain(shown), "gain_noise_free_db": gain(match_blur(raw, clean))},
                        index=pd.RangeIndex(n, name="scene"))


def held_out_at_scales(model: nn.Module, size: int = 256, motion: float = 48.0, scales=(1, "auto"), n: int = 32,
                       device="cpu") -> pd.DataFrame:
    """Scene by scene, held-out capture scenes of ``size`` pixels (content moving up to ``motion``
    pixels) through :func:`blur2vid.models.inference.predict_frames` at each of ``scales`` (a factor, or
    ``"auto"``: what ``blur2vid predict`` does by default): the middle frame over the blurry input
    (``middle s=K``) and the mean pPSNR over the blur copy (``mean s=K``).  The shipped model was
    trained on 64 px crops; this is how it fares on larger photographs seen at other sizes."""
    test = DataConfig(family=CAPTURES, size=size, max_shift=motion).test_set(n, device, "shipping")
    frames, blur = test.frames.float().cpu(), test.blur.float().cpu()
    mid = frames.shape[1] // 2
    table = {}
    for scale in scales:
        pred = torch.stack([predict_frames(model, b, device=device, progress=False, scale=scale) for b in blur])
        gain = over_blur_copy(pred, frames, blur)
        table[f"middle s={scale}"] = gain[:, mid].numpy()
        table[f"mean s={scale}"] = gain.mean(1).numpy()
    return pd.DataFrame(table, index=pd.RangeIndex(n, name="scene"))


def intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Each column of a per-scene table: its mean and 95% bootstrap interval over the scenes."""
    return pd.DataFrame({c: _interval(torch.tensor(table[c].to_numpy())) for c in table.columns}).T


def by_motion(scenes: pd.DataFrame, groups: int = 4) -> pd.DataFrame:
    """:func:`held_out_scenes` in ``groups`` equal groups from the most blurred scenes (lowest
    ``blur_db``) to the least: the mean of every column and the number of scenes."""
    order = scenes.sort_values("blur_db").reset_index(drop=True)
    group = (order.index * groups // len(order)).to_series(index=order.index)
    table = order.groupby(group).mean()
    table.insert(0, "scenes", order.groupby(group).size())
    names = {0: "most blurred", groups - 1: "least blurred"}
    table.index = [f"{k + 1}/{groups}" + (f" ({names[k]})" if k in names else "") for k in table.index]
    return table


def on_real_footage(model: nn.Module, device="cpu", bare: bool = False, noise: float = 0.0,
                    denoiser: nn.Module | None = None) -> pd.DataFrame:
    """Per window of the real footage (7 frames, one apart), as ``blur2vid evaluate real --stride 1``
    scores it (as ``predict`` runs the model, or, ``bare``, the model as passed at full size; held
    to the photograph as ``denoiser`` cleans it at ``noise`` > 0): the model's mean pPSNR, the blur
    copy's, their difference ``over_blur_copy``, and the same for the middle frame."""
    cfg = EvalConfig(stride=1, bare=bare, ssim=False, device=str(device))
    table = score_footage(open_footage("real", cfg), {"model": model.eval()}, cfg, noise=noise, denoiser=denoiser)
    ours, copy = (table[table["model"] == m].set_index("window") for m in ("model", BLUR_COPY))
    return pd.DataFrame({"mean": ours["mean"], "blur_copy_mean": copy["mean"],
                         "over_blur_copy": ours["mean"] - copy["mean"], "middle": ours["middle"],
                         "blur_middle": copy["middle"], "middle_over_blur": ours["middle"] - copy["middle"]})


def evaluate(model: nn.Module, device="cpu", n: int = 64, bare: bool = False) -> dict[str, Any]:
    """Everything :mod:`blur2vid.app.shipping` measures a model on (see the module's text), as
    ``blur2vid predict`` runs it (its working scale; the footage, 25x14 px, is smaller than the
    working size, so it stays at full size, as do the 64 px held-out scenes, which are scored in
    batches at full size), or, ``bare``, the network alone at full size."""
    model = model.eval()
    video = on_real_footage(model, device=device, bare=bare)
    spread = video.agg(["mean", "min", "max"]).round(2)
    scale = 1 if bare else "auto"
    _, checks = real.compare_on_photos({"model": model}, device=device, scales={"model": scale})
    photos = {name: {k: round(float(v), 2) for k, v in row.items()} for (_, name), row in checks.iterrows()}
    return {"real_video": {"file": real.REAL_VIDEO, "windows": len(video),
                           **{c: spread[c].to_dict() for c in video.columns}},
            "real_photos": photos, "scale": scale,
            "held_out": {name: held_out(model, n=n, motion=m, device=device) for name, m in MOTIONS.items()}}


@torch.no_grad()
def with_denoiser(model: MatchBlur, denoiser: nn.Module, levels=None, n: int = 64, device="cpu"
                  ) -> pd.DataFrame:
    """The shipped ``model`` (held) with its frames held to the photograph cleaned by ``denoiser``,
    one row per noise level given to every photograph (8-bit levels, 0: the photograph itself;
    default :data:`NOISE_LEVELS`) and
    a row ``own`` for each held-out scene's own level (an oracle for the scenes; the footage is
    clean and the clock's level is unknown, so both get 0 there): the held-out scenes' middle frame over the blurry input at
    moderate and full motion (mean, ``_low``, ``_high``: 95% over the ``n`` scenes), how close the
    photograph held to is to the noise-free blur (``moderate_target_db``), the real footage's mean
    pPSNR and middle frame over the blur copy (as ``blur2vid predict`` runs it), and how far the
    denoiser moves the real photograph ``clock_motion.png`` (PSNR of what it holds to, against it)."""
    model, denoiser = model.eval().to(device), denoiser.eval().to(device)
    rows: dict[str, dict[str, float]] = {f"{float(k):g}": {} for k in (NOISE_LEVELS if levels is None else levels)}
    rows["own"] = {}
    for name, motion in MOTIONS.items():
        test = DataConfig(family=CAPTURES, size=64, max_shift=motion).test_set(n, device, "shipping")
        raw = batched(model.net, test.blur, 16, clamp=True).float()
        frames, blur, clean = test.frames.float(), test.blur.float(), test.meta["blur_clean"].float()
        mid = frames.shape[1] // 2
        own = noise_level(blur, clean)
        for label in rows:
            sigma = own if label == "own" else torch.full((len(blur),), float(label) / 255, device=blur.device)
            target = blur if label == "0" else denoise_batched(denoiser, blur, sigma)
            iv = _interval(over_blur_copy(model.hold(raw, target), frames, blur)[:, mid])
            rows[label].update({name: iv["mean"], f"{name}_low": iv["low"], f"{name}_high": iv["high"]})
            if name == "moderate":
                rows[label]["moderate_target_db"] = round(float(capped(psnr(target, clean)).mean()), 2)
    clock = real.real_photos()["clock_motion.png"]
    on_real: dict[float, dict[str, float]] = {}  # by level: "own" is 0 there, measured once
    for label in rows:
        level = 0.0 if label == "own" else float(label) / 255
        if level not in on_real:
            video = on_real_footage(model, device=device, noise=level, denoiser=denoiser)
            frames = predict_frames(model, clock, device=device, progress=False, noise=level, denoiser=denoiser,
                                    scale="auto")
            on_real[level] = {"video_over_blur_copy": round(float(video["over_blur_copy"].mean()), 2),
                              "video_middle_over_blur": round(float(video["middle_over_blur"].mean()), 2),
                              "clock_reblur_db": round(real.reblur_psnr(frames, clock), 2)}
        rows[label].update(on_real[level])
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("noise level")


def retrain_command(run: str | Path, notes: dict[str, Any], shipped: ModelCard | None = None,
                    default: str = RETRAIN) -> str:
    """How to remake the model of ``run``: its own ``blur2vid train`` command, then the install;
    a fine-tune of the shipped model (``init="default"``) starts with the recipe of the model it
    started from (``shipped``, that model's card), so the chain remakes every step.  A run without
    a recorded command gets ``default`` (:data:`RETRAIN`; a denoiser's, :data:`DENOISER_RETRAIN`)."""
    command = str(notes.get("trained_by") or "")
    if not command.startswith("blur2vid train"):
        return default
    own = f"{command} && blur2vid ship {run} --install"
    if notes.get("spec", {}).get("init") == "default":
        if not shipped or not shipped.retrain:
            raise ValueError(f"{run}: fine-tuned from the shipped model, whose card has no retrain command")
        return f"{shipped.retrain} && {own}"
    return own


def _run_notes(run: Path) -> dict[str, Any]:
    if not (run / "model.pt").is_file() or not (run / "model.json").is_file():
        raise FileNotFoundError(f"{run}: no model.pt and model.json (is the blur2vid train run finished?)")
    return json.loads((run / "model.json").read_text())


def card(run: str | Path, evaluation: dict[str, Any], shipped: ModelCard | None = None,
         match_blur: bool | None = None) -> ModelCard:
    """The shipped model's card: the run's own notes (command, spec, budget, samples) with the
    evaluation, the retrain command (:func:`retrain_command`; ``shipped``: the card of the model
    shipped now) and the licence; ``match_blur``: whether it ships held (``None``: as trained)."""
    notes = _run_notes(Path(run))
    data = notes.get("spec", {}).get("data")
    if data and data.get("family") == CAPTURES:  # every switch of the training scenes, defaults included
        notes["data_switches"] = json.loads(json.dumps(asdict(DataConfig(**data).captures())))
    if notes.get("spec", {}).get("init") == "default" and shipped:
        notes["fine_tuned_from"] = {k: getattr(shipped, k) for k in ("trained_by", "steps", "samples", "budget")}
    if match_blur is not None:
        notes["match_blur"] = match_blur
    return ModelCard.from_dict({**notes, "file": "default_model.pt", "retrain": retrain_command(run, notes, shipped),
                                "licence": LICENCE, "evaluation": evaluation}, f"{run}/model.json")


def _shipped_card(path: Path) -> ModelCard | None:
    return ModelCard.read(path) if path.is_file() else None


def install(run: str | Path, assets: str | Path | None = None, device="cpu", match_blur: bool | None = None
            ) -> ModelCard:
    """Measure ``run/model.pt`` and write it, with its card, as the package's default model;
    with ``match_blur`` it ships with its frames moved to re-blur to the photograph
    (:mod:`blur2vid.models.match_blur`, what ``blur2vid predict`` then does by default), and the
    card holds the network alone's measurements too (``evaluation_network_alone``).  ``None``: as
    the run was trained (``blur2vid train --set match_blur=true`` trains the frames held)."""
    run = Path(run)
    _run_notes(run)
    network, trained = load_model(run / "model.pt")
    model, shipped_as = held_as_noted(network, trained, match_blur, name=str(run))
    assets = default_model_path().parent if assets is None else Path(assets)
    shipped = _shipped_card(assets / "default_model.json")
    made = card(run, evaluate(model, device=device), shipped, match_blur=shipped_as["match_blur"])
    if made.match_blur and not trained.get("match_blur"):  # held here, not in training: this install says so
        made = replace(made, retrain=made.retrain + " --match-blur")
    if made.match_blur:  # a scaled run is held: the network alone is measured at full size
        made = replace(made, evaluation_network_alone=evaluate(network, device=device, bare=True))
    save_model(assets / "default_model.pt", network, made.to_dict())
    made.write(assets / "default_model.json")
    return made


def _denoiser_card(run: Path, denoiser: nn.Module, device="cpu", n: int = 64,
                   shipped: ModelCard | None = None) -> ModelCard:
    """A denoiser run's card: its notes, the retrain command (:func:`retrain_command`; ``shipped``:
    the card of the denoiser shipped now, which a fine-tune of it starts from), the licence, and
    :func:`with_denoiser` with the shipped model (``evaluation``: one entry per noise level)."""
    notes = _run_notes(run)
    spec = notes.get("spec") or {}
    if spec.get("data"):  # scored as this version scores a denoiser (over the test scenes that have noise)
        data = DataConfig(**spec["data"])
        notes["held_out"] = denoiser_notes(denoiser, data.test_set(spec.get("n_test", 64), device, "train-command"))
    model, _ = load_predictor()  # the shipped model, held as its card says
    table = with_denoiser(model, denoiser, n=n, device=device)
    retrain = retrain_command(run, notes, shipped, default=DENOISER_RETRAIN)
    return ModelCard.from_dict({
        **notes, "file": "default_denoiser.pt", "retrain": retrain, "licence": LICENCE,
        "evaluation": {"with": "the shipped model (default_model.pt), as blur2vid predict --noise LEVEL runs it",
                       "by_noise_level": {str(k): {c: float(v) for c, v in row.items()} for k, row in table.iterrows()}},
    }, f"{run}/model.json")


def install_denoiser(run: str | Path, assets: str | Path | None = None, device="cpu", n: int = 64) -> ModelCard:
    """Measure the denoiser of ``run/model.pt`` with the shipped model and write it, with its card,
    as the package's denoiser (``default_denoiser.pt`` and ``.json``)."""
    run = Path(run)
    _run_notes(run)
    denoiser, _ = load_model(run / "model.pt", expect="NoiseLevelDenoiser")
    assets = default_denoiser_path().parent if assets is None else Path(assets)
    made = _denoiser_card(run, denoiser, device, n, _shipped_card(assets / "default_denoiser.json"))
    save_model(assets / "default_denoiser.pt", denoiser, made.to_dict())
    made.write(assets / "default_denoiser.json")
    return made


def ship(run: str | Path, install_it: bool = False, match_blur: bool | None = None, device="cpu") -> dict[str, Any]:
    """``blur2vid ship``: what :func:`evaluate` (or, for a denoiser's run, :func:`with_denoiser`)
    measures on the run's model, and with ``install_it`` the model installed with its card."""
    run = Path(run)
    if read_model_file(run / "model.pt").get("arch") == "NoiseLevelDenoiser":
        if install_it:
            return install_denoiser(run, device=device).evaluation
        return _denoiser_card(run, load_model(run / "model.pt")[0], device).evaluation
    if install_it:
        return install(run, device=device, match_blur=match_blur).evaluation
    model, _ = held_as_noted(*load_model(run / "model.pt"), match_blur, name=str(run))
    return evaluate(model, device=device)
