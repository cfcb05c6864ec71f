"""``blur2vid evaluate``: every convention against its definition on arrays with a known answer, the
interval over sequences on clustered data, bad input named, a killed run resumed, and a miniature
dataset of each layout end to end."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from blur2vid.app.evaluate import BLUR_COPY, EvalConfig, evaluate, open_footage, score_windows, summarise
from blur2vid.cli import main
from blur2vid.core import metrics
from blur2vid.core.formation import synthesize_blur
from blur2vid.core.metrics_cpu import squared_errors
from blur2vid.experiments.intervals import hierarchical_bootstrap
from blur2vid.models.checkpoint import save_model
from blur2vid.models.unet import SequenceUNet
from minidata import rb2v, smooth_frames, write_seq, write_video

pytestmark = pytest.mark.usefixtures("one_thread")


def _truth(n=2, t=7, h=24, w=32, seed=0):
    return torch.rand(n, t, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 0.8 + 0.1


def test_the_truth_reversed_is_perfect_under_every_order_free_convention():
    truth = _truth()
    rev = truth.flip(1)
    assert torch.isinf(metrics.ppsnr_sequence(rev, truth)).all()
    assert torch.isinf(metrics.ppsnr_pairs(rev, truth)).all()
    assert torch.isinf(metrics.pwpsnr(rev, truth)).all()
    assert torch.isinf(metrics.middle_psnr(rev, truth)).all()
    assert torch.isfinite(metrics.per_frame_psnr(rev, truth)[:, 0]).all()  # in the order predicted it is wrong
    assert torch.allclose(metrics.ssim_sequence(rev, truth), torch.ones(2, 7, dtype=torch.float64))


def test_reversed_in_one_half_only_is_perfect_per_pixel_and_not_per_sequence():
    truth = _truth()
    half = truth.clone()
    half[..., :, :16] = truth.flip(1)[..., :, :16]  # the left half plays backwards
    assert torch.isinf(metrics.pwpsnr(half, truth)).all()
    seq = metrics.ppsnr_sequence(half, truth)
    assert torch.isfinite(seq[:, 0]).all() and torch.isinf(seq[:, 3]).all()  # the middle frame is right either way


def test_a_constant_shift_and_the_blur_copy_have_known_scores():
    truth = _truth()
    shifted = truth + 0.05  # every pixel off by 0.05: MSE 0.0025, 26.02 dB whatever the convention
    expected = -20 * math.log10(0.05)
    for value in (metrics.ppsnr_sequence(shifted, truth), metrics.ppsnr_pairs(shifted, truth),
                  metrics.pwpsnr(shifted, truth), metrics.middle_psnr(shifted, truth)):
        assert torch.allclose(value, torch.full_like(value, expected), atol=1e-6)
    blur = synthesize_blur(truth, "srgb")
    copy = blur[:, None].expand_as(truth)
    assert (metrics.reblur_psnr(copy, blur, "srgb") > 120).all()  # the copy re-blurs to the blur (to rounding): no evidence
    assert torch.equal(metrics.ppsnr_sequence(copy, truth), metrics.per_frame_psnr(copy, truth))  # no order to choose


def test_pwpsnr_is_never_below_the_whole_sequence_in_either_direction():
    truth, pred = _truth(seed=1), _truth(seed=2)
    whole = [10 * torch.log10(1 / (p - truth).double().pow(2).mean(dim=(1, 2, 3, 4))) for p in (pred, pred.flip(1))]
    assert (metrics.pwpsnr(pred, truth) >= torch.maximum(*whole) - 1e-9).all()


def test_ssim_is_scikit_images_default():
    from skimage.metrics import structural_similarity

    a = torch.rand(3, 3, 20, 27, generator=torch.Generator().manual_seed(3))
    b = (a + 0.1 * torch.randn(a.shape, generator=torch.Generator().manual_seed(4))).clamp(0, 1)
    ref = [structural_similarity(x.double().numpy(), y.double().numpy(), data_range=1.0, channel_axis=0)
           for x, y in zip(a, b, strict=True)]
    for ssim in (metrics.ssim, metrics.ssim_maps):  # the CPU's kernel, and torch's maps (any device)
        np.testing.assert_allclose(ssim(a, b).numpy(), ref, atol=1e-6)
    with pytest.raises(ValueError, match="at least 7x7"):
        metrics.ssim(a[..., :6], b[..., :6])


def test_one_image_over_time_is_scored_as_if_written_out():
    """The blur copy (one image expanded over the frames, which the CPU's kernels read once per
    frame) scores as the same image written out seven times, and as torch's maps score it."""
    truth = _truth(seed=9)
    copy = synthesize_blur(truth, "srgb")[:, None].expand_as(truth)
    written = copy.contiguous()
    ssim = metrics.ssim(copy, truth)
    assert ssim.shape == (truth.shape[0], truth.shape[1])
    assert torch.equal(ssim, metrics.ssim(written, truth))
    np.testing.assert_allclose(ssim.numpy(), metrics.ssim_maps(copy, truth).numpy(), atol=1e-6)
    for kernel, written_out in zip(squared_errors(copy, truth), squared_errors(written, truth), strict=True):
        assert torch.equal(kernel, written_out)


def test_ssim_is_scikit_images_default_on_photographs_flat_areas_and_other_ranges():
    """torch's window sums are taken in float32 (the CPU's kernel sums in float64): both are still
    scikit-image's float64 SSIM on a photograph and a moved copy of it, on saturated and flat 8-bit
    areas (where a variance is the difference of two large sums), with ``data_range=255``, and on
    small images that share a chunk."""
    import skimage.data
    from skimage.metrics import structural_similarity

    photo = torch.from_numpy(skimage.data.chelsea()[40:200, 20:260]).permute(2, 0, 1).float() / 255
    moved = torch.roll(photo, shifts=(2, 3), dims=(1, 2)) * 0.9 + 0.05
    saturated, saturated_moved = photo.clone(), moved.clone()
    saturated[:, :80], saturated_moved[:, :70] = 1.0, 1.0
    flat, flat_moved = photo.clone(), (moved * 255).round() / 255
    flat[:, 20:120, 30:200], flat_moved[:, 40:140, 30:200] = 200 / 255, 200 / 255
    a, b = torch.stack([photo, saturated, flat]), torch.stack([moved, saturated_moved, flat_moved])
    small = torch.rand(40, 3, 12, 9, generator=torch.Generator().manual_seed(7))
    small_b = (small + 0.05 * torch.randn(small.shape, generator=torch.Generator().manual_seed(8))).clamp(0, 1)
    for x, y, scale in ((a, b, 1.0), (a * 255, b * 255, 255.0), (small, small_b, 1.0)):
        ref = [structural_similarity(p.double().numpy(), t.double().numpy(), data_range=scale, channel_axis=0)
               for p, t in zip(x, y, strict=True)]
        np.testing.assert_allclose(metrics.ssim(x, y, data_range=scale).numpy(), ref, atol=1e-9, rtol=0)
        np.testing.assert_allclose(metrics.ssim_maps(x, y, data_range=scale).numpy(), ref, atol=1.5e-6, rtol=0)


def test_every_convention_at_once_equals_its_definition():
    truth, pred = _truth(seed=5), _truth(seed=6)
    pred[0] = truth[0].flip(0) + 0.01
    copy = synthesize_blur(truth, "srgb")[:, None].expand_as(truth)  # the blur copy: one image over time
    for p in (pred, copy):
        got = metrics.conventions(p, truth)  # a CPU's kernel, its sums in float64
        for name, definition in (("forward", metrics.per_frame_psnr), ("sequence", metrics.ppsnr_sequence),
                                 ("pairs", metrics.ppsnr_pairs), ("pwpsnr", metrics.pwpsnr),
                                 ("middle", metrics.middle_psnr)):
            torch.testing.assert_close(got[name], definition(p, truth), atol=1e-9, rtol=0, msg=name)
        assert torch.equal(got["reversed"], metrics.sequence_reversed(p, truth))
        # SSIM in the sequence direction: the CPU reads a reversed window backwards, torch flips a copy
        flipped = torch.where(got["reversed"][:, None, None, None, None], p.flip(1), p)
        torch.testing.assert_close(metrics.ssim_sequence(p, truth), metrics.ssim_maps(flipped, truth), atol=1e-6, rtol=0)
        with pytest.raises(ValueError, match="must have the shape of the sequences"):
            metrics.ssim_sequence(p, truth, reverse=got["reversed"][:, None])
        # torch's sums (any device): float32, so the same to float32's rounding
        for kernel, maps in zip(squared_errors(p, truth), metrics._squared_errors(p, truth), strict=True):
            torch.testing.assert_close(maps, kernel, rtol=1e-6, atol=0)


def test_the_kernels_spread_windows_over_threads_without_changing_a_bit():
    truth, pred = _truth(n=5, seed=10), _truth(n=5, seed=11)
    threads = torch.get_num_threads()
    try:
        runs = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            runs.append((*squared_errors(pred, truth), metrics.ssim(pred, truth)))
    finally:
        torch.set_num_threads(threads)
    for run in runs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(runs[0], run, strict=True))


def test_the_interval_over_sequences_covers_clustered_data():
    """Windows of one video share its offset: resampling sequences, then windows, covers the true
    mean about 95% of the time, where treating windows as independent would not."""
    rng = np.random.default_rng(0)
    hits = naive_hits = 0
    trials = 100
    for _ in range(trials):
        groups = [rng.normal(rng.normal(0, 1), 0.3, 20) for _ in range(8)]  # 8 videos of 20 windows
        iv = hierarchical_bootstrap(groups, n_resamples=1000, seed=int(rng.integers(1 << 30)))
        hits += iv.low <= 0 <= iv.high
        flat = np.concatenate(groups)
        se = flat.std(ddof=1) / math.sqrt(flat.size)
        naive_hits += abs(flat.mean()) <= 1.96 * se
    assert hits >= 0.88 * trials and naive_hits <= 0.6 * trials


def test_summary_reports_sequence_means_with_counts_and_paired_differences():
    rows = []
    for seq, offset in (("a", 0.0), ("b", 2.0), ("c", 4.0)):
        for k, extra in enumerate((0, 0, 0, 9)):  # sequence c has a fourth window; a's mean must weigh the same
            if seq != "c" and k == 3:
                continue
            for model, gain in ((BLUR_COPY, 0.0), ("m", 1.0)):
                rows.append({"model": model, "sequence": seq, "window": str(k), "mean": 20 + offset + gain + extra,
                             "middle": 1.0, "outer": 1.0})
    summary, paired = summarise(pd.DataFrame(rows), [BLUR_COPY, "m"])
    assert summary.loc["m", "sequences"] == 3 and summary.loc["m", "windows"] == 10
    assert summary.loc["m", "mean"] == pytest.approx((21 + 23 + (25 * 3 + 34) / 4) / 3)  # the mean of sequence means
    diff = paired.set_index(["model", "minus"]).loc[("m", BLUR_COPY)]
    assert diff["mean"] == pytest.approx(1.0) and diff["mean_low"] == pytest.approx(1.0)  # the same gain everywhere
    one, _ = summarise(pd.DataFrame([r for r in rows if r["sequence"] == "a"]), [BLUR_COPY, "m"])
    assert math.isnan(one.loc["m", "mean_low"])  # one sequence: no interval


def _model_file(tmp_path):
    torch.manual_seed(0)
    net = SequenceUNet(n_frames=7, width=4, depth=1)
    with torch.no_grad():
        net.out.bias.normal_(0, 0.02)
    return save_model(tmp_path / "tiny.pt", net)


def test_a_frame_folder_end_to_end_resumes_without_scoring_again(tmp_path, monkeypatch):
    for seq in ("s1", "s2", "s3"):
        write_seq(tmp_path / "data" / seq, range(1, 15), size=(20, 24))
    model = _model_file(tmp_path)
    cfg = EvalConfig(batch=4)
    first = evaluate(str(tmp_path / "data"), [str(model)], tmp_path / "out", cfg, progress=False, command="x")
    assert first.info["sequences"] == 3 and first.info["windows"] == 6
    assert set(first.windows["model"]) == {BLUR_COPY, "tiny"} and len(first.windows) == 12
    for name in ("windows.csv", "summary.csv", "summary.md", "paired.csv", "per_frame.png", "conventions.png",
                 "evaluation.json"):
        assert (tmp_path / "out" / name).is_file(), name
    info = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert info["models"]["tiny"]["sha256"] and info["mean"].startswith("the mean of the sequences' means")
    assert "LPIPS: absent" in (tmp_path / "out" / "summary.md").read_text()
    blur_rows = first.windows[first.windows["model"] == BLUR_COPY]
    assert (blur_rows["reblur_db"] > 60).all()
    # killed after the first batch: the second run scores only what is missing
    (tmp_path / "out" / "windows.csv").write_text(first.windows.iloc[:5].to_csv(index=False))
    calls = []
    import blur2vid.app.evaluate as ev

    real = ev.score_windows
    monkeypatch.setattr(ev, "score_windows", lambda pred, *a, **k: calls.append(len(pred)) or real(pred, *a, **k))
    again = evaluate(str(tmp_path / "data"), [str(model)], tmp_path / "out", cfg, progress=False, command="x")
    assert sum(calls) == 7 and len(again.windows) == 12
    pd.testing.assert_frame_equal(again.summary, first.summary)
    # killed while a batch's rows were being added: the line cut short is dropped and scored again
    whole = first.windows.to_csv(index=False)
    (tmp_path / "out" / "windows.csv").write_text(whole[:whole.rindex("\n", 0, -1) + 9])
    calls.clear()
    third = evaluate(str(tmp_path / "data"), [str(model)], tmp_path / "out", cfg, progress=False, command="x")
    assert sum(calls) == 1 and len(third.windows) == 12
    pd.testing.assert_frame_equal(third.summary, first.summary)
    written = pd.read_csv(tmp_path / "out" / "windows.csv", dtype={"sequence": str, "window": str})
    assert len(written) == 12 and not written.duplicated(["model", "sequence", "window"]).any()
    with pytest.raises(ValueError, match="other settings"):
        evaluate(str(tmp_path / "data"), [str(model)], tmp_path / "out", EvalConfig(frames=5), progress=False)


def test_videos_rb2v_and_the_named_footage_end_to_end(tmp_path):
    write_video(tmp_path / "vids" / "a.mp4", smooth_frames(15, 24, 32))
    write_video(tmp_path / "vids" / "b.mp4", smooth_frames(15, 24, 32))
    (tmp_path / "vids" / "broken.mp4").write_bytes(b"not a video")
    videos = evaluate(str(tmp_path / "vids"), ["default"], tmp_path / "v", EvalConfig(crop=(16, 16)), progress=False)
    assert videos.info["sequences"] == 2 and str(tmp_path / "vids" / "broken.mp4") in videos.info["skipped"]
    assert "Skipped 1 unreadable file(s)" in (tmp_path / "v" / "summary.md").read_text()
    rb2v(tmp_path / "rb", [("S1/0001", "ignore", "test"), ("S1/0002", "ignore", "test"), ("S2/0001", "ignore", "test")],
         size=(20, 20))
    footage = open_footage(str(tmp_path / "rb"), EvalConfig())
    assert footage.captured_blur and len(footage.windows) == 3
    with pytest.raises(ValueError, match="RB2V samples have 7 frames; pass --frames 7"):
        open_footage(str(tmp_path / "rb"), EvalConfig(frames=5))
    scenes = evaluate("scenes", ["default"], tmp_path / "s", EvalConfig(n_scenes=4, size=32), progress=False)
    assert scenes.info["sequences"] == 4 and scenes.summary.loc["shipped", "mean_low"] <= scenes.summary.loc["shipped", "mean"]


def test_bad_input_is_named(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    write_seq(tmp_path / "short" / "s1", range(1, 4), size=(20, 20))
    assert main(["evaluate", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "short"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "s1" in capsys.readouterr().err  # a sequence shorter than a window
    (tmp_path / "broken.pt").write_bytes(b"junk")
    assert main(["evaluate", "real", "--model", str(tmp_path / "broken.pt"), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    assert "broken.pt" in capsys.readouterr().err
    assert main(["evaluate", "real", "--frames", "31", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "fewer than --frames 31" in capsys.readouterr().err
    with pytest.raises(ValueError, match="frames=6: expected an odd number"):
        EvalConfig(frames=6)
    with pytest.raises(ValueError, match="smaller than the crop"):
        evaluate("real", ["default"], tmp_path / "c", EvalConfig(crop=(32, 32)), progress=False)


def test_the_real_footage_has_one_sequence_and_says_there_is_no_interval(tmp_path, capsys):
    assert main(["evaluate", "real", "--out", str(tmp_path / "r"), "--quiet", "--stride", "1"]) == 0
    text = capsys.readouterr().out
    assert "1 sequence(s), 18 window(s)" in text and "none: one sequence" in text
    table = pd.read_csv(tmp_path / "r" / "summary.csv", index_col=0)
    assert table.loc[BLUR_COPY, "mean"] == pytest.approx(table.loc[BLUR_COPY, "forward_db"])


def test_lpips_is_a_column_only_with_its_weights(tmp_path):
    from blur2vid.models.lpips import LPIPS_CHANNELS, VGG16LPIPSFeatures, load_lpips

    truth = _truth(n=1, h=32, w=32)
    without = score_windows(truth, truth, truth.mean(1), "srgb")
    assert "lpips" not in without.columns
    torch.manual_seed(1)  # random weights of the right layout: a VGG16 to relu5_3 and LPIPS's five linear layers
    vgg, lin = tmp_path / "vgg16.pth", tmp_path / "lpips_vgg.pth"
    torch.save(VGG16LPIPSFeatures().state_dict(), vgg)
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(LPIPS_CHANNELS)}, lin)
    scored = score_windows(truth.flip(1), truth, truth.mean(1), "srgb", lpips=load_lpips(lin, vgg))
    assert scored["lpips"].iloc[0] == pytest.approx(0.0, abs=1e-6)  # read in its sequence direction: the truth
    noisy = score_windows((truth + 0.1).clamp(0, 1), truth, truth.mean(1), "srgb", lpips=load_lpips(lin, vgg))
    assert noisy["lpips"].iloc[0] > 0


def test_a_windows_blur_is_eq1_of_its_cropped_frames(tmp_path):
    """evaluate blurs only the crop of a window's frames: the same, to the bit, as the loader's own
    blur of the full frames, cropped (Eq. 1 is per pixel), through the camera response asked for."""
    from blur2vid.data.frame_folders import FrameFolderDataset

    for seq in ("s1", "s2"):
        write_seq(tmp_path / "data" / seq, range(1, 10), size=(28, 36))
    for crf, stride in (("srgb", None), ("gamma2.2", None), ("srgb", 1)):
        footage = open_footage(tmp_path / "data", EvalConfig(crop=(20, 24), crf=crf, stride=stride))
        loader = FrameFolderDataset(tmp_path / "data", n_frames=7, crf=crf, split="all", stride=stride or 7)
        # one window of 7 of each sequence's 9 frames, or three one frame apart (sharing six frames,
        # each taken to linear intensities once; read in order, then out of order)
        assert len(footage.windows) == len(loader) == (2 if stride is None else 6)
        for j in [*range(len(loader)), *reversed(range(len(loader)))]:
            blur, frames = footage.load(j)
            whole = loader[j]
            assert frames.shape == (7, 3, 20, 24) and torch.equal(frames, whole.frames[..., 4:24, 6:30])
            assert torch.equal(blur, whole.blur[..., 4:24, 6:30]), (crf, stride, j)
    from blur2vid.data.video import VideoDataset  # and a video's windows, the same way

    path = write_video(tmp_path / "v.mp4", smooth_frames(9, 28, 36))
    footage = open_footage(path, EvalConfig(crop=(20, 24)))
    blur, frames = footage.load(0)
    whole = VideoDataset(path, n_frames=7, split="all", crf="srgb")[0]
    assert torch.equal(frames, whole.frames[..., 4:24, 6:30]) and torch.equal(blur, whole.blur[..., 4:24, 6:30])


def test_the_frames_kept_for_windows_that_share_them_are_bounded(tmp_path, monkeypatch):
    """Windows one frame apart share their frames' linear intensities, but a folder of videos
    keeps at most two windows' worth of frames in all (a finished video's are let go)."""
    import blur2vid.app.evaluate as ev

    for k in range(4):
        write_video(tmp_path / "videos" / f"v{k}.mp4", smooth_frames(9, 20, 24))
    caches, real = set(), ev._SharedBlur.__call__

    def spy(self, frames, keys):
        caches.add(self)
        return real(self, frames, keys)

    monkeypatch.setattr(ev._SharedBlur, "__call__", spy)
    footage = open_footage(tmp_path / "videos", EvalConfig(stride=1))
    for j in range(len(footage.windows)):
        footage.load(j)
    assert len(footage.windows) == 12 and sum(len(c.linear) for c in caches) <= 14
