"""Notebook 04, Jin's cascade trained: the middle network against a Nah-style baseline (Table 2,
Fig. 3), the ablation of the losses (Fig. 4), the middle frame fed to the other networks (Fig. 5),
run time and size (Table 3), and the claims read off them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from blur2vid.core import published
from blur2vid.core.io import atomic_write_text, shown_path
from blur2vid.core.metrics import capped, psnr
from blur2vid.core.seeding import derive_seed
from blur2vid.core.tensors import batched
from blur2vid.data.config import split_seed
from blur2vid.data.sample import Batch
from blur2vid.data.source import DatasetError
from blur2vid.experiments.claims import claims_table, margin_claim, threshold_claim
from blur2vid.experiments.tables import (
    OUTER,
    baseline_rows,
    outer_gain,
    premise_margin,
    rows_of,
    scene_scores,
    scene_table,
)
from blur2vid.losses import multiscale_loss
from blur2vid.models import timing
from blur2vid.models.blocks import pad_to_multiple
from blur2vid.models.checkpoint import save_model
from blur2vid.models.jin import JinCascade
from blur2vid.models.nah import NahConfig, NahMultiScale
from blur2vid.training.cascade import (
    JIN_VARIANTS,
    MIDDLE_UNUSED,
    JinTrainConfig,
    middle_run_config,
    predict_variant,
    train_frames,
    train_middle,
    training_batches,
    validation_middle_psnr,
)
from blur2vid.training.loop import Workspace, config_key, fit, plain

__all__ = ["JinExperimentConfig", "ABLATION", "ORACLE", "jin_middle", "nah_config", "nah_baseline", "jin_test_set",
           "jin_test_sets", "middle_psnr_table", "middle_grid", "jin_cascade", "ablation_table",
           "middle_feed_table", "middle_feed_grid", "table3", "claims", "export_jin_model", "NAH_SPEED_RATIO",
           "jin_cascades", "ablation_frames"]

ABLATION = ("independent", "global", "pair_no_middle", "pair", "sequential", "teacher_forcing")
"""The six training schemes of Jin Fig. 4, by id (:data:`~blur2vid.training.cascade.JIN_VARIANTS`)."""
ORACLE = "hand_made_order"
"""Ours, beside the six: the cascade trained against the hand-made order, exactly like them."""


@dataclass(frozen=True)
class JinExperimentConfig:
    """Notebook 04: the training configuration (shared with notebooks 03, 06 and 07), the Nah-style
    baseline's size preset, the test-set size, the ablation schemes, and Table 3's benchmark."""

    train: JinTrainConfig = JinTrainConfig()
    nah: str = "cpu"                     # NahConfig preset: smoke | cpu | paper
    n_test: int = 256
    variants: tuple[str, ...] = (*ABLATION, ORACLE)
    bench_scale: str = "paper"           # network sizes timed for Table 3
    bench_resolutions: dict[str, tuple[int, int]] = field(default_factory=lambda: {"320P": (320, 568)})
    bench_repeats: int = 1

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in JIN_VARIANTS]
        if unknown:
            raise ValueError(f"unknown Jin variants {unknown}; expected some of {list(JIN_VARIANTS)}")


# ------------------------------------------------------------------------------ step 1, Table 2


def jin_middle(cfg: JinTrainConfig, ws: Workspace) -> tuple[JinCascade, list[dict]]:
    """Table 1 step 1, trained once per configuration and shared by every ablation variant."""
    torch.manual_seed(cfg.seed)
    cascade = JinCascade(cfg.jin_config())
    return cascade, train_middle(cascade, cfg, ws)


def nah_config(preset: str) -> NahConfig:
    """The Nah-style baseline at a size preset, with a global skip (every network here has one)."""
    return NahConfig.preset(preset, global_skip=True)


NAH_UNUSED = (*MIDDLE_UNUSED, "vgg_weights", "model", "zero_init")
"""Fields of the Jin configuration that do not affect the Nah-style baseline (it has its own
network and no perceptual term)."""


def nah_baseline(cfg: JinTrainConfig, preset: str, ws: Workspace) -> tuple[NahMultiScale, list[dict]]:
    """The Nah-style multi-scale network trained on the same batches and budget as the middle
    network, with Nah's multi-scale loss."""
    nah = nah_config(preset)
    torch.manual_seed(cfg.seed)
    net = NahMultiScale(nah)
    run_cfg = middle_run_config(cfg, NAH_UNUSED, model="nah", nah=nah)

    def loss_fn(m, batch):
        estimates, _ = m(batch.blur, return_all=True)
        sharp, _ = pad_to_multiple(batch.frames[:, 3], 2 ** (nah.scales - 1))
        targets = m.pyramid(sharp)
        targets[-1] = batch.frames[:, 3]
        return multiscale_loss(estimates, targets)

    history = fit(net, training_batches(cfg, cfg.batch_middle, "middle", ws.device), loss_fn, steps=cfg.steps_middle,
                  lr=cfg.lr, device=ws.device, config=run_cfg, checkpoint=ws.checkpoint("nah", run_cfg),
                  validate=ws.validator(cfg.data, validation_middle_psnr), progress=ws.progress,
                  precision=ws.precision, compile=ws.compile, desc="Nah baseline")
    return net, history


def jin_test_set(cfg: JinTrainConfig, n: int, device="cpu") -> Batch:
    """Held-out scenes (or test windows) like the training data: the first of :func:`jin_test_sets`."""
    return cfg.data.test_set(n, device)


def jin_test_sets(cfg: JinTrainConfig, n: int, device="cpu") -> dict[str, Batch]:
    """Held-out scenes at the training blur strength and at twice it (Jin Table 2's two regimes:
    blur like the training data, and larger blur).

    With a data folder: the test split's windows, and windows of every second frame (twice the
    motion over the same 7 frames).  RB2V's blur is captured, and sequences may be too short for
    windows of every second frame: then the first set only, its name saying why."""
    test = jin_test_set(cfg, n, device)
    data = cfg.data
    if data.data_root is not None:
        if data.source().kind == "rb2v":
            return {"test split (captured blur: no larger-blur set)": test}
        try:
            large = data.source(frame_step=2, skip_short=True)
        except DatasetError:  # no sequence is long enough for a window of every second frame
            large = None
        if large is None or not large.indices["test"]:
            return {"test split (sequences too short for a larger-blur set)": test}
        return {"test split": test, "test split, every 2nd frame (2x motion)":
                large.test_set(n, split_seed("test", "large"), device)}
    return {
        f"moderate (≤{data.max_shift:g} px)": test,
        f"large (≤{2 * data.max_shift:g} px)": data.test_set(n, device, "large", max_shift=2 * data.max_shift),
    }


def middle_psnr_table(nah: torch.nn.Module, middle: torch.nn.Module, test_sets: dict[str, Batch]) -> pd.DataFrame:
    """Jin Table 2 per test scene: PSNR of the middle frame on each test set (one column per set),
    rows ``blur`` (the blurry input itself, a floor), ``nah`` and ``middle``; a scene table (the
    paper's table is its :func:`~blur2vid.experiments.tables.summary`).  Sets of different sizes
    leave NaN where the smaller one has no scene."""
    n = max(len(t) for t in test_sets.values())
    rows = {}
    for row_id, label, model in (("blur", "blurry input", None), ("nah", "Nah-style multi-scale", nah),
                                 ("middle", "Middle (Jin)", middle)):
        cols = []
        for test in test_sets.values():
            pred = test.blur if model is None else batched(model, test.blur, 32, clamp=True)
            col = np.full(n, np.nan)
            col[:len(test)] = capped(psnr(pred, test.frames[:, 3])).cpu().numpy()
            cols.append(col)
        rows[row_id] = (label, np.stack(cols, axis=1))
    return scene_table(rows, columns=list(test_sets), mean=False)


@torch.no_grad()
def middle_grid(nah: torch.nn.Module, middle: torch.nn.Module, test: Batch, n: int = 4):
    """Jin Fig. 3's grid: for the first ``n`` test scenes, the blur, each model's middle estimate and
    the true middle frame.  Returns ``(rows, column labels)`` for :func:`plots.image_grid`."""
    rows = [[test.blur[i], nah(test.blur[i:i + 1])[0].clamp(0, 1), middle(test.blur[i:i + 1])[0].clamp(0, 1),
             test.frames[i, 3]] for i in range(min(n, len(test)))]
    return rows, ["blurry input", "Nah-style", "Middle (Jin)", "ground truth x[4]"]


# ------------------------------------------------------------------------------ Fig. 4, Fig. 5


def jin_cascade(cfg: JinTrainConfig, variant: str, middle_state: dict, ws: Workspace,
                ordering: torch.nn.Module | None = None) -> tuple[JinCascade, list[dict]]:
    """One variant's cascade: the shared middle network, and its own non-middle networks
    (``ordering``: the ordering network of the variants that need one), in eval mode; and its
    training history (the learning curve of its stages, samples counted through them)."""
    torch.manual_seed(derive_seed(cfg.seed, "frames"))  # every variant starts from the same weights
    cascade = JinCascade(cfg.jin_config())
    cascade.middle.load_state_dict(middle_state)
    history = train_frames(cascade, variant, cfg, ws, ordering=ordering)
    return cascade.eval(), history


def jin_cascades(cfg: JinExperimentConfig, middle: JinCascade, ws: Workspace
                 ) -> tuple[dict[str, JinCascade], dict[str, list[dict]]]:
    """Every scheme of ``cfg.variants`` on the trained middle network of ``middle``:
    ``({variant: cascade}, {variant: history})``."""
    runs = {v: jin_cascade(cfg.train, v, middle.middle.state_dict(), ws) for v in cfg.variants}
    return {v: c for v, (c, _) in runs.items()}, {v: h for v, (_, h) in runs.items()}


def ablation_table(cascades: dict[str, JinCascade], test: Batch, level: str = "sequence",
                   baselines: bool = True) -> pd.DataFrame:
    """Jin Fig. 4 as numbers, per test scene: per-frame order-invariant PSNR of each variant (rows by
    variant id), and the mean; a scene table.  With ``baselines`` the baseline rows come first (the blur, and the shared middle
    network's estimate, as every frame): a variant that does not beat them has not learned to
    extract frames, and then its ranking says nothing about the losses (see :func:`claims`)."""
    rows = {}
    if baselines and cascades:
        rows.update(baseline_rows(test, next(iter(cascades.values())).middle, level))
    for name, cascade in cascades.items():
        rows[name] = (JIN_VARIANTS[name].label, scene_scores(predict_variant(cascade, name, test.blur), test.frames,
                                                             level))
    return scene_table(rows)


def ablation_frames(cascades: dict[str, JinCascade], test: Batch, sample: int = 0):
    """Fig. 4's image grid: the frames each scheme extracts from one test blur (rows), and the
    ground truth last.  Returns ``(rows, row labels, column labels)`` for :func:`plots.image_grid`."""
    blur = test.blur[sample:sample + 1]
    rows = [list(predict_variant(c, v, blur)[0]) for v, c in cascades.items()] + [list(test.frames[sample])]
    return (rows, [JIN_VARIANTS[v].label for v in cascades] + ["ground truth"],
            [f"x[{k + 1}]" for k in range(test.frames.shape[1])])


def middle_feed_table(cascade: JinCascade, variant: str, test: Batch) -> pd.DataFrame:
    """Jin Fig. 5 as numbers, per test scene: per-frame pPSNR when the non-middle networks are fed the
    estimated middle frame (row ``estimated``) vs the ground-truth one (row ``ground_truth``), and
    the mean of the frames other than the middle (fed the truth, the middle frame is the truth: its
    PSNR is the cap, which a mean over all frames would carry)."""
    table = scene_table({
        middle: (label, scene_scores(predict_variant(cascade, variant, test.blur, middle=middle,
                                                     gt_middle=test.frames[:, 3]), test.frames))
        for middle, label in (("estimated", "estimated middle fed"), ("ground_truth", "ground-truth middle fed"))
    }, mean=False)
    frames = [c for c in table.columns if c.startswith("F")]
    table["mean of the others"] = table[[c for k, c in enumerate(frames) if k != len(frames) // 2]].mean(axis=1)
    return table


def middle_feed_grid(cascade: JinCascade, variant: str, test: Batch, n: int = 2):
    """Jin Fig. 5's grid: frames 1, 4, 7 of the first ``n`` test scenes with the estimated middle fed,
    then with the ground truth fed.  Returns ``(rows, column labels)`` for :func:`plots.image_grid`."""
    est = predict_variant(cascade, variant, test.blur[:n])
    gt = predict_variant(cascade, variant, test.blur[:n], middle="ground_truth", gt_middle=test.frames[:n, 3])
    rows = [[est[i, 0], est[i, 3], est[i, 6], gt[i, 0], gt[i, 3], gt[i, 6]] for i in range(len(est))]
    return rows, ["x1 (est. middle)", "x4 estimated", "x7 (est. middle)", "x1 (GT middle)", "x4 ground truth",
                  "x7 (GT middle)"]


# ------------------------------------------------------------------------------ Table 3, claims


def table3(cfg: JinExperimentConfig, device="cpu", cache: str | Path | None = None) -> pd.DataFrame:
    """Jin Table 3 at the configured network sizes and resolutions (:func:`blur2vid.models.timing.table3`).

    With ``cache`` (a folder; notebook 04 passes its checkpoint folder) the timing is made once per
    processor, torch version and configuration, saved there, and read back by later runs: it does
    not depend on the training seed, and at the ``cpu`` profile it took about a sixth of notebook
    04.  ``attrs["cached"]`` names the file a table was read from; delete it to time again."""
    def measure() -> pd.DataFrame:
        return timing.table3(timing.table3_models(cfg.bench_scale), resolutions=dict(cfg.bench_resolutions),
                                device=device, repeats=cfg.bench_repeats)

    if cache is None:
        return measure()
    key = config_key("jin_table3", {"scale": cfg.bench_scale, "resolutions": dict(cfg.bench_resolutions),
                                    "repeats": cfg.bench_repeats, "device": timing.device_name(device),
                                    "torch": torch.__version__})
    path = Path(cache) / f"{key}.csv"
    if path.is_file():
        table = pd.read_csv(path, index_col="model")
        table.attrs["cached"] = str(path)
        return table
    table = measure()
    atomic_write_text(path, table.to_csv())
    return table


NAH_SPEED_RATIO = 5.0
"""Table 3's claim that the middle network is much faster than Nah's counts as held at this ratio
(half the paper's, :func:`paper_nah_ratio`)."""


def paper_nah_ratio() -> float:
    """How many times faster than Nah's the paper's middle network runs (Table 3, 320P)."""
    return published.JIN_TABLE3["Nah"]["320P"] / published.JIN_TABLE3["Middle"]["320P"]


def claims(table2: pd.DataFrame, ablation: pd.DataFrame, feed: pd.DataFrame, runtime: pd.DataFrame) -> pd.DataFrame:
    """The claims of Jin Sec. 7 read off notebook 04's tables (the scene tables of
    :func:`middle_psnr_table`, :func:`ablation_table` and :func:`middle_feed_table`, and Table 3's
    timings), each margin with its evidence per test scene.

    The Fig. 4 premise comes first among the ablation's claims: the best variant's frames 1, 2, 6, 7
    against the better of the two baselines (the blur, or the middle estimate, copied to every
    frame).  Where it is not shown, the networks have not learned to extract frames and the rankings
    are noise around that baseline (the registry then marks Fig. 4 and Fig. 5 not shown)."""
    sets = [c for c in table2.columns if c != "label"]
    moderate = sets[0]
    large = sets[1] if len(sets) > 1 else None  # RB2V's captured blur has no larger-blur set

    def t2(row: str, col: str | None) -> np.ndarray:
        scenes = rows_of(table2, row)
        return np.full(len(scenes), np.nan) if col is None else scenes[col].to_numpy(dtype=float)

    present = list(dict.fromkeys(ablation.index.get_level_values("id")))
    variants = [r for r in present if r in ABLATION]  # the paper's six schemes: the oracle is ours

    def gain(a: str, b: str, cols=OUTER) -> np.ndarray:
        return outer_gain(ablation, a, b, cols)

    speed = runtime[[c for c in runtime.columns if c.endswith("_s") and not c.startswith("paper_")][0]]
    return claims_table([
        margin_claim("jin.tab2.middle_beats_nah", "Table 2: Middle beats Nah on blur like the training data",
                     t2("middle", moderate) - t2("nah", moderate)),
        margin_claim("jin.tab2.nah_better_on_large_blur",
                     "Table 2: Nah does better on larger blur than on moderate, relative to Middle (scenes paired "
                     "by index)", (t2("nah", large) - t2("middle", large)) - (t2("nah", moderate) - t2("middle", moderate))),
        margin_claim("jin.fig4.premise", "Fig. 4 premise: the non-middle networks beat the better baseline "
                     "(best variant, frames 1, 2, 6, 7)", premise_margin(ablation, variants), kind="premise"),
        *([margin_claim("jin.fig4.oracle_learns", "Oracle (ours): the cascade trained against the hand-made "
                        "order beats the better baseline (frames 1, 2, 6, 7): the backbone can learn the frames when "
                        "told the direction", premise_margin(ablation, [ORACLE]), kind="reference")]
          if ORACLE in present else []),
        margin_claim("jin.fig4.sequential_beats_independent", "Fig. 4: sequential pairwise beats independent on outer "
                     "frames", gain("sequential", "independent")),
        margin_claim("jin.fig4.pair_beats_global", "Fig. 4: pairwise beats global on outer frames",
                     gain("pair", "global")),
        margin_claim("jin.fig4.middle_input_helps_pair", "Fig. 4: feeding the middle estimate helps the pairwise loss",
                     gain("pair", "pair_no_middle", ["mean"])),
        margin_claim("jin.fig4.sequential_beats_pair", "Fig. 4: sequential beats pairwise on frames 1, 2, 6, 7",
                     gain("sequential", "pair")),
        margin_claim("jin.fig4.teacher_forcing_beats_sequential", "Fig. 4: teacher forcing beats sequential",
                     gain("teacher_forcing", "sequential", ["mean"])),
        margin_claim("jin.fig5.gt_middle_helps", "Fig. 5: the ground-truth middle helps the other frames",
                     outer_gain(feed, "ground_truth", "estimated")),
        threshold_claim("jin.tab3.middle_faster_than_full", "Table 3: the middle network is faster than the full "
                        "cascade (ratio of times)", speed["Full"] / speed["Middle"], above=1.0, unit="x"),
        threshold_claim("jin.tab3.middle_faster_than_nah", "Table 3: the middle network is faster than Nah's "
                        "(ratio of times)", speed["Nah"] / speed["Middle"], above=1.0, unit="x"),
        threshold_claim("jin.tab3.middle_much_faster_than_nah", f"Table 3: the middle network is faster than "
                        f"Nah's by at least {NAH_SPEED_RATIO:g}x (the "
                        f"paper: {paper_nah_ratio():.1f}x at 320P)", speed["Nah"] / speed["Middle"], above=NAH_SPEED_RATIO,
                        unit="x"),
    ])


def export_jin_model(cascade: JinCascade, cfg: JinTrainConfig, folder: str | Path, profile: str) -> Path:
    """Save notebook 04's teacher-forced cascade as a model file for ``blur2vid predict``:
    ``folder/jin_teacher_forcing.pt``."""
    path = Path(folder) / "jin_teacher_forcing.pt"
    notes = {
        "trained_by": f"notebook 04_jin_training, profile {profile}: Jin Table 1 with teacher forcing",
        "train_config": plain(cfg),
        "retrain": f"make reproduce PROFILE={profile}, then copy {path.name} from the run's models/ folder",
    }
    save_model(path, cascade, notes)
    print(f"model file: blur2vid predict PHOTO --checkpoint {shown_path(path)}")
    return path

