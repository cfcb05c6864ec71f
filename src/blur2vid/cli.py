"""The ``blur2vid`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]

TRAIN_SETTINGS = """settings (a config file's keys, or --set KEY=VALUE):
  scheme     naive | order_invariant | hypercut | order_invariant_reg   (default hypercut), or
             denoise: the noise-level denoiser of predict --noise (capture-like scenes only)
  ordering   motion_rule: the explicit order of hypercut, the hand-made order (the content moves right)
  width, depth, batch, lr, seed           the U-Net (frames or denoiser) and its optimiser
  steps | minutes                         the budget: one of them (minutes are converted once to
                                          steps on this machine and recorded)
  n_test                                  held-out scenes scored into the model's notes
  init       a model file to start from (fine-tuning; the same width and depth), or "default":
             the shipped model (with scheme=denoise: the shipped denoiser)
  match_blur true: train (and export) the frames held to the blur, every frame moved alike until
             they re-blur to the input, as predict --match-blur runs them (default false)
  data.family   pans | sprites | captures (capture-like: camera shake, objects, noise, JPEG)
  data.size, data.max_shift, data.n_frames, data.data_root
  data.capture.NAME   a switch of the capture-like scenes (data/captures.py CaptureConfig), e.g.
                      data.capture.minify=[1,8] data.capture.clean=0.3 data.capture.photons=[1000,20000]
recipes (--preset NAME):
  smoke          seconds, for tests
  unet-pans      notebook 06's U-Net on the cpu profile's pans
  unet-captures  the capture-like scenes, an hour: where the shipped model started
  denoiser       the noise-level denoiser that predict --noise uses, 50 minutes"""


def _reproduce(args: argparse.Namespace) -> int:
    from blur2vid.reproduction import executors
    from blur2vid.reproduction.reproduce import BatchError, reproduce, run_chain, time_table3

    seeds = args.seeds if args.seeds is not None else ([args.seed] if args.seed is not None else None)
    common = dict(profile=args.profile, device=args.device, seeds=seeds, only=args.only or None,
                  data_root=args.data_root, precision=args.precision, resume=not args.no_resume)
    cluster = {"partition": args.partition, "gpus": args.gpus_per_job, "cpus": args.cpus_per_job,
               "mem_gb": args.mem_gb, "time_min": args.time_min}  # Resources' names
    flags = {"resources": "--resources", "partition": "--partition", "gpus": "--gpus-per-job",
             "cpus": "--cpus-per-job", "mem_gb": "--mem-gb", "time_min": "--time-min"}
    given = [flags[k] for k, v in [("resources", args.resources), *cluster.items()] if v is not None]
    if args.executor != "slurm" and given:
        raise ValueError(f"{', '.join(given)}: the resources of --executor slurm's jobs")
    if args.executor == "local" and (args.dry_run or (args.batch and not args.step)):
        raise ValueError("--dry-run and --batch are for a batch of jobs: --executor processes or slurm (or --step)")
    if args.step and (args.devices or args.share_devices):
        raise ValueError("--devices and --share-devices spread a batch's seeds; a --step runs on --device")
    try:
        if args.step == "chains":
            seconds = run_chain(**common, batch=args.batch)
        elif args.step == "table3":
            time_table3(args.profile, args.device)
            seconds = {}
        elif args.step == "pool" and args.executor != "slurm":
            seconds = executors.pool_step(**common, batch=args.batch)
        elif args.executor == "local":
            seconds = reproduce(**common, jobs=args.jobs, devices=args.devices, share_devices=args.share_devices)
        else:
            options = ["--executor", args.executor]
            if args.executor == "processes" and args.jobs != "auto":
                options += ["--jobs", str(args.jobs)]
            if args.devices:
                options += ["--devices", args.devices]
            if args.share_devices:
                options.append("--share-devices")
            if args.resources:
                options += ["--resources", str(args.resources)]
            options += [x for k, v in cluster.items() if v is not None for x in (flags[k], str(v))]
            resources = executors.load_resources(args.resources, args.profile, args.device, **cluster) \
                if args.executor == "slurm" else None
            seconds = executors.run_batch(args.executor, **common, jobs=args.jobs, devices=args.devices,
                                          share_devices=args.share_devices, resources=resources, batch=args.batch,
                                          dry_run=args.dry_run, pool_only=args.step == "pool", options=options,
                                          entry=main)
    except BatchError as exc:
        print(f"blur2vid: {exc}", file=sys.stderr)
        return 1
    total = sum(seconds.values())
    for name, s in seconds.items():
        print(f"{name:32s} {s:8.1f} s")
    print(f"{'total':32s} {total:8.1f} s")
    return 0


def _checked(check):
    """An argparse ``type`` that runs ``check`` on the text and reports its ``ValueError`` as argparse's."""
    def parse(text: str):
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _scale(text: str) -> float | str:
    """``--scale``: auto or a number >= 1."""
    from blur2vid.models.inference import working_scale

    working_scale(1, 1, text)
    return text if text == "auto" else float(text)


def _workers(text: str) -> int | str:
    """``--workers``: auto or a whole number >= 0."""
    if text == "auto":
        return text
    if not text.isdigit():
        raise ValueError(f"workers must be 'auto' or a whole number >= 0, got {text!r}")
    return int(text)


def _noise(text: str) -> float:
    """``--noise``: a level >= 0."""
    from blur2vid.models.inference import check_noise

    return check_noise(text)


def _predict(args: argparse.Namespace) -> int:
    from blur2vid.app.predict import predict_file
    from blur2vid.reproduction.runs import resolve_device

    out = predict_file(args.photo, args.out, checkpoint=args.checkpoint, device=resolve_device(args.device, mps=True),
                       tile=args.tile, fps=args.fps, progress=not args.quiet, precision=args.precision, fmt=args.format,
                       compile=args.compile, match_blur=args.match_blur, scale=args.scale, noise=args.noise,
                       denoiser=args.denoiser)
    print(f"wrote {out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from blur2vid.app.recipes import load_recipe, train_model
    from blur2vid.reproduction.runs import resolve_device
    from blur2vid.training import distributed

    recipe = load_recipe(args.preset, args.config, args.set or [], args.data_root)
    if args.preset is None and args.config is None and not args.set and distributed.is_main():
        print("blur2vid train: no --preset or --config: training the defaults (see --help)")
    chosen = distributed.init_from_env(args.device)  # under torchrun: join the group, one GPU per rank
    try:
        path = train_model(recipe, args.out, device=chosen or resolve_device(args.device), precision=args.precision,
                           compile=args.compile, workers=args.workers,
                           progress=not args.quiet, command="blur2vid " + " ".join(args.argv))
        if distributed.is_main():
            print(f"wrote {path} (notes in {path.with_suffix('.json')})"
                  + (f", {distributed.world_size()} processes" if distributed.is_distributed() else ""))
    finally:
        distributed.shutdown()
    return 0


def _ship(args: argparse.Namespace) -> int:
    import json

    from blur2vid.app.shipping import ship

    print(json.dumps(ship(args.run, args.install, args.match_blur, args.device), indent=2))
    return 0


def _card(args: argparse.Namespace) -> int:
    from blur2vid.app.model_card import measure, write_card
    from blur2vid.core.io import shown_path

    folder = measure(args.measurements, device=args.device, n=args.scenes, force=args.force, progress=not args.quiet)
    print(f"wrote {shown_path(write_card(folder, args.out))} from the card and {shown_path(folder)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from blur2vid.app.evaluate import EvalConfig, evaluate
    from blur2vid.core.precision import resolve_precision
    from blur2vid.reproduction.runs import resolve_device

    device = resolve_device(args.device)
    crop = None if args.crop == "full" else tuple(int(v) for v in args.crop.lower().split("x"))
    cfg = EvalConfig(frames=args.frames, stride=args.stride, max_windows=args.max_windows,
                     crop=crop if crop is None or len(crop) == 2 else crop * 2, crf=args.crf, split=args.split,
                     n_scenes=args.scenes, bare=args.bare, ssim=not args.no_ssim, batch=args.batch, device=str(device),
                     precision=resolve_precision(args.precision, device))
    result = evaluate(args.footage, args.model or ["default"], args.out, cfg, lpips_weights=args.lpips,
                      vgg16=args.vgg16, command="blur2vid " + " ".join(args.argv), progress=not args.quiet)
    print((result.out / "summary.md").read_text())
    print(f"wrote {result.out} (windows.csv, summary.csv, summary.md, paired.csv, per_frame.png, conventions.png, "
          f"evaluation.json)")
    return 0


def _book(args: argparse.Namespace) -> int:
    from blur2vid.reproduction.book import BookError, build

    try:
        book = build(args.source, args.out, outputs=args.outputs, profile=args.profile)
    except BookError as exc:
        print(f"blur2vid book: {exc}", file=sys.stderr)
        return 1
    print(book)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="blur2vid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="run every notebook with papermill (the reference run, profile cpu or gpu "
                         "with training seeds 0 1 2 on the scenes, regenerates figures/; any other run writes under "
                         "results/)")
    rep.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "gpu"])
    rep.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    rep.add_argument("--seeds", type=int, nargs="+", default=None,
                     help="training seeds: the notebooks that train run once per seed and their claims are judged "
                     "together (default: 0 1 2 at cpu and gpu on the scenes, the reference run; else 0)")
    rep.add_argument("--seed", type=int, default=None, help="one seed (the same as --seeds K)")
    rep.add_argument("--precision", default="auto", choices=["fp32", "bf16", "auto"],
                     help="training and inference precision (auto: bf16 where the processor or GPU does it natively)")
    rep.add_argument("--jobs", default="auto", help="seeds trained at once, each with cpu_count // jobs threads, "
                     "each on a GPU of its own where there are GPUs (auto: on a CPU one per seed, or 1 on one core; "
                     "on GPUs one per GPU)")
    rep.add_argument("--devices", default=None, metavar="cuda:N,...", help="the GPUs the seeds train on, one seed "
                     "per GPU at a time (default: every GPU of the machine with --device auto or cuda)")
    rep.add_argument("--share-devices", action="store_true", help="allow more seeds at a time (--jobs) than GPUs: "
                     "two trainings on one GPU")
    rep.add_argument("--executor", default="local", choices=["local", "processes", "slurm"],
                     help="where the seeds' chains run: local, threads of this process (default); processes, one "
                     "process per seed on this machine, logs under results/<profile>/jobs/; slurm, one SLURM job per "
                     "seed through submitit (pip install 'blur2vid[cluster]'), Table 3 and the pooling jobs of "
                     "their own, as many at once as the scheduler runs (--jobs and --devices are this machine's); "
                     "a failed job is named with its log and the command that resumes")
    rep.add_argument("--step", default=None, choices=["chains", "table3", "pool"],
                     help="run one step of a batch here: chains, the notebooks that train for each of --seeds (what "
                     "a job runs); table3, Table 3 timed alone into notebook 04's cache; pool, check that every "
                     "seed finished its chain (else name what is missing), pool them and run the other notebooks "
                     "(with --executor slurm: as a job), e.g. when the process that submitted the jobs died")
    rep.add_argument("--batch", default=None, metavar="ID", help="continue the batch of jobs with this id (printed "
                     "when it was submitted, and in its record results/<profile>/jobs/seeds-.../batch.json): what "
                     "its jobs finished is skipped (default: this checkout's id, the commit and its changes)")
    rep.add_argument("--resources", default=None, metavar="FILE", help="--executor slurm: the jobs' resources, "
                     "TOML or JSON: partition, gpus, cpus, mem_gb, time_min, account, qos, constraint, exclusive, "
                     "setup (shell lines), sbatch (any other sbatch option), max_requeues; [table3] and [pool] "
                     "tables for those jobs")
    rep.add_argument("--partition", default=None, help="--executor slurm: the partition of every job")
    rep.add_argument("--gpus-per-job", type=int, default=None, help="--executor slurm: GPUs per job (default 1, "
                     "0 with --device cpu); a chain trains on one")
    rep.add_argument("--cpus-per-job", type=int, default=None, help="--executor slurm: CPUs per job (default 8 "
                     "with a GPU, else 4), the kernels' threads")
    rep.add_argument("--mem-gb", type=float, default=None, help="--executor slurm: memory per job in GB (default 32)")
    rep.add_argument("--time-min", type=int, default=None, help="--executor slurm: time limit per job in minutes "
                     "(default: a day at gpu, 4 h at cpu, 30 min at smoke; Table 3's job 1 h at most); a job out "
                     "of time is requeued and resumes")
    rep.add_argument("--dry-run", action="store_true", help="--executor processes or slurm: print each job's "
                     "command (and sbatch script) and run nothing")
    rep.add_argument("--no-resume", action="store_true",
                     help="re-execute notebooks a batch of seeds already finished at this commit")
    rep.add_argument("--only", nargs="*", help="run only notebooks whose file name contains one of these")
    rep.add_argument("--data-root", default=None, help="a dataset folder (frames, videos or RB2V) for every notebook "
                     "that trains, instead of the procedural scenes (writes under results/)")
    rep.set_defaults(func=_reproduce)
    pre = sub.add_parser("predict", help="extract the frames hidden in one motion-blurred photograph")
    pre.add_argument("photo", help="image file (PNG, JPEG, ...; grayscale, RGBA and EXIF rotation are handled), or a "
                     "folder: every photograph in it")
    pre.add_argument("--out", required=True, help="clip.gif, clip.mp4, or a folder for PNG frames; for a folder of "
                     "photographs, a folder that gets one output per photograph")
    pre.add_argument("--format", default=None, choices=["gif", "mp4", "png"],
                     help="for a folder of photographs: what each becomes (default gif; png: a folder of frames)")
    pre.add_argument("--checkpoint", default=None, help="a model file (default: the model shipped with blur2vid), "
                     "or a folder holding Jin et al.'s four released weight files")
    pre.add_argument("--device", default="auto", help="auto (CUDA, then Apple MPS, then CPU) | cpu | cuda | cuda:N | mps")
    pre.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                     help="inference precision (auto: bf16 where the processor or GPU does it natively)")
    pre.add_argument("--compile", action="store_true", help="run the network through torch.compile (pays off on "
                     "large photographs or many of them; the first one waits for the compiler)")
    pre.add_argument("--match-blur", action=argparse.BooleanOptionalAction, default=None,
                     help="move all frames alike until they re-blur to the photograph, keeping the motion "
                          "(default: as the model file says; the shipped model's card gives its measurements)")
    pre.add_argument("--tile", type=int, default=1280,
                     help="process larger images in as few tiles of at most this size as cover them "
                          "(default 1280: a 1280x720 photograph whole, about 1 GB at fp32; smaller saves memory)")
    pre.add_argument("--scale", default="auto", type=_checked(_scale),
                     help="shrink the photograph by this factor (>= 1) for the network and hold the enlarged frames "
                          "to it at full size (default auto: a shorter side of 96 px, near the 64 px the shipped model "
                          "was trained on; 1: the network at full size, where it loses on larger photographs)")
    pre.add_argument("--noise", default=0.0, type=_checked(_noise), metavar="LEVELS",
                     help="the photograph's noise level, the standard deviation of its grain in 8-bit levels "
                          "(default 0: none). Above 0 the frames are held to the photograph cleaned by a denoiser "
                          "told this level, so its grain is not put back into every frame; a phone photograph in "
                          "dim light is typically 2-6. On a clean photograph it smooths away fine detail")
    pre.add_argument("--denoiser", default=None, help="the denoiser's model file for --noise (default: the one "
                     "shipped with blur2vid; blur2vid train --preset denoiser makes one)")
    pre.add_argument("--fps", type=float, default=7.0, help="frames per second of the GIF or MP4")
    pre.add_argument("--quiet", action="store_true", help="no progress bar")
    pre.set_defaults(func=_predict)
    tra = sub.add_parser("train", help="train a model from a recipe or a JSON config, resumably, and export a model "
                         "file for predict --checkpoint", epilog=TRAIN_SETTINGS,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    tra.add_argument("--preset", default=None, metavar="RECIPE", help="a named training recipe to start from: "
                     "smoke | unet-pans | unet-captures | denoiser (below)")
    tra.add_argument("--config", default=None, help="a JSON file of settings (the keys listed below; "
                     "data as a nested object)")
    tra.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override one setting, e.g. steps=2000, minutes=30, data.size=64 (repeatable)")
    tra.add_argument("--data-root", default=None, help="train on a dataset folder (frames, videos or RB2V) instead "
                     "of procedural scenes")
    tra.add_argument("--out", required=True, help="the run's folder: checkpoints/, train_spec.json, model.pt; a "
                     "killed run resumes from it")
    tra.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    tra.add_argument("--precision", default="auto", choices=["fp32", "bf16", "auto"],
                     help="training precision (auto: bf16 where the processor or GPU does it natively)")
    tra.add_argument("--compile", action="store_true", help="run the training step through torch.compile")
    tra.add_argument("--workers", default="auto", type=_checked(_workers),
                     help="processes that render the training scenes ahead, on the CPU (auto: none on a CPU run, "
                     "the CPU's cores but one, at most 16, on a GPU); the batches are the same whatever the number")
    tra.add_argument("--quiet", action="store_true", help="no progress bar")
    tra.set_defaults(func=_train)
    shi = sub.add_parser("ship", help="measure a blur2vid train run as the shipped model is measured, and install "
                         "it with its card (python -m blur2vid.shipping is the same command)")
    shi.add_argument("run", help="a blur2vid train --out folder (holding model.pt and model.json); a denoiser's "
                     "run (scheme denoise) is measured with the shipped model and installs as its denoiser")
    shi.add_argument("--install", action="store_true", help="write it as the package's default model (or denoiser)")
    shi.add_argument("--match-blur", action=argparse.BooleanOptionalAction, default=None,
                     help="measure (and ship) the frames moved to re-blur to the input (default: as the run was trained)")
    shi.add_argument("--device", default="cpu")
    shi.set_defaults(func=_ship)
    eva = sub.add_parser("evaluate", help="score models on footage by every convention of the field, with "
                         "intervals over sequences (the blur copied to every frame is always a row)")
    eva.add_argument("footage", help="a dataset folder (frame folders, videos, RB2V), a video file, a folder of "
                     "videos, or: real (the video scikit-image ships), scenes, captures (the synthetic test scenes)")
    eva.add_argument("--model", action="append", metavar="MODEL",
                     help="default (the shipped model), a blur2vid model file, or a folder of Jin et al.'s four "
                     "weight files; repeatable (default: the shipped model)")
    eva.add_argument("--out", required=True, help="the folder of the tables, figures and windows.csv (a killed "
                     "run resumes from it)")
    eva.add_argument("--frames", type=int, default=7, help="frames per blur (odd; default 7)")
    eva.add_argument("--stride", type=int, default=None, help="frames between window starts (default: windows "
                     "do not overlap)")
    eva.add_argument("--max-windows", type=int, default=None, help="at most this many windows, spread evenly")
    eva.add_argument("--crop", default="full", help="a centre crop, SIZE or HEIGHTxWIDTH (e.g. 160x240), or "
                     "full (default)")
    eva.add_argument("--crf", default="srgb", help="camera response of the synthesised blur: srgb | linear | "
                     "gamma<g> (not used for RB2V, whose blur is captured)")
    eva.add_argument("--split", default="all", choices=["all", "train", "val", "test"],
                     help="which split of a dataset folder (default all)")
    eva.add_argument("--scenes", type=int, default=64, help="how many synthetic test scenes (scenes, captures)")
    eva.add_argument("--bare", action="store_true", help="the networks alone at full size, not as predict runs "
                     "them (working scale, held to the photograph)")
    eva.add_argument("--no-ssim", action="store_true", help="leave SSIM out (the slowest of the scores)")
    eva.add_argument("--lpips", default=None, metavar="FILE", help="LPIPS's VGG weights (vgg.pth of the lpips "
                     "package); with a VGG16 file (--vgg16 or $BLUR2VID_VGG16); otherwise no LPIPS column")
    eva.add_argument("--vgg16", default=None, metavar="FILE", help="torchvision's VGG16 weights, for LPIPS")
    eva.add_argument("--batch", type=int, default=16, help="windows through a network at a time")
    eva.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    eva.add_argument("--precision", default="auto", choices=["fp32", "bf16", "auto"],
                     help="auto: bf16 where the processor or GPU does it natively")
    eva.add_argument("--quiet", action="store_true", help="no progress bar")
    eva.set_defaults(func=_evaluate)
    car = sub.add_parser("card", help="the shipped model's card (docs/model_card.md): measure what it shows "
                         "(blur2vid evaluate on the real footage and the test scenes, the held-out analyses) and write it")
    car.add_argument("--measurements", default=None, help="the folder of the measurements (default docs/model_card/); "
                     "a measurement whose file is there is not made again")
    car.add_argument("--out", default=None, help="the Markdown file (default docs/model_card.md)")
    car.add_argument("--scenes", type=int, default=64, help="held-out scenes per measurement (default 64)")
    car.add_argument("--force", action="store_true", help="measure everything again")
    car.add_argument("--device", default="cpu")
    car.add_argument("--quiet", action="store_true", help="no progress bars")
    car.set_defaults(func=_card)
    boo = sub.add_parser("book", help="build the static site of the last reference run's executed notebooks "
                         "(docs/book/); runs nothing")
    boo.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "gpu"], help="whose reference run")
    boo.add_argument("--source", default=None, help="a folder of executed notebooks (default: the reference "
                     "run's, results/executed/<profile>/reference)")
    boo.add_argument("--outputs", default=None, help="the run's output folder, for the verdicts (default figures/, "
                     "figures/gpu for gpu)")
    boo.add_argument("--out", default=None, help="where the site goes (default docs/book, docs/book-<profile>)")
    boo.set_defaults(func=_book)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, TypeError, MemoryError) as exc:
        print(f"blur2vid: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
