"""Command line for use outside the workflow: ``python -m vvcjnd <command> ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vvcjnd.errors import VvcjndError


def _check_config(args: argparse.Namespace) -> None:
    from vvcjnd.config import load_config
    from vvcjnd.distort.codecs import codec_from_config, codec_levels, codec_names

    config = load_config(args.config)
    encode = config["encode"]
    for name in codec_names(encode):
        codec_levels(encode, name)
        codec_from_config(encode, name).check()
    print(f"{args.config}: valid")


def _add_check_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="YAML config file to validate")


def _ladder(args: argparse.Namespace) -> None:
    import json

    from vvcjnd.colour import YuvFormat
    from vvcjnd.config import load_config
    from vvcjnd.distort.codecs import codec_from_config, codec_levels
    from vvcjnd.distort.ladder import run_ladder
    from vvcjnd.paths import ladder_points_dir, ladder_record

    config = load_config(args.config)
    encode = config["encode"]
    name = args.codec or encode["encoder"]
    codec = codec_from_config(encode, name)
    if args.level:
        levels = codec.scale.parse(args.level, "--level", name)
    else:
        levels = codec_levels(encode, name)
    codec.check()
    record_path = ladder_record(args.output, args.image.stem)
    record = run_ladder(
        args.image,
        ladder_points_dir(record_path),
        record_path,
        codec,
        YuvFormat.from_config(config["colour"]),
        levels,
        workers=encode["threads"],
        timeout_s=encode["timeout_s"],
        log=args.output / f"{args.image.stem}.log",
    )
    for point in record["points"]:
        print(json.dumps({k: point[k] for k in ("level", "bytes", "psnr_y", "encode_s")}))


def _config_docs(args: argparse.Namespace) -> None:
    from vvcjnd.config import config_reference
    from vvcjnd.io import write_text

    write_text(args.output, config_reference())
    print(f"wrote {args.output}")


def _add_config_docs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/config.md"))


def _compare_checksums(args: argparse.Namespace) -> None:
    from vvcjnd.checksums import compare

    differing = compare(args.first, args.second)
    for name, row in differing.iterrows():
        print(f"differs: {name} ({row['first']} vs {row['second']})")
    print(f"{len(differing)} dataset file(s) differ")
    if len(differing):
        raise VvcjndError(f"{args.first} and {args.second} differ")


def _add_compare_checksums(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("first", type=Path, help="results/checksums.sha256 of one run")
    parser.add_argument("second", type=Path, help="results/checksums.sha256 of another run")


def _add_ladder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="canonical 8-bit RGB PNG (sizes multiple of 8)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--config", type=Path, default=Path("config.yaml"), help="config file")
    parser.add_argument("--codec", help="codec name (python -m vvcjnd codecs); default: encoder")
    parser.add_argument(
        "--level",
        "--qp",
        type=float,
        nargs="+",
        help="levels on the codec's scale (QPs for VVC); default: the config's ladder",
    )


def _add_infer(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m vvcjnd infer --checkpoint C IMAGE... -o DIR``."""
    from vvcjnd.infer.profile import SIGN_POLICIES, WINDOWS, InferSettings

    defaults = InferSettings()
    parser.add_argument("images", nargs="+", type=Path, help="8-bit RGB or gray PNG images")
    parser.add_argument("--checkpoint", required=True, type=Path, help="trained model (.pt)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    parser.add_argument("--f-c", type=float, default=defaults.f_c, help="contrast factor f_C")
    parser.add_argument("--sign", choices=SIGN_POLICIES, default=defaults.sign)
    parser.add_argument("--stride", type=int, default=defaults.stride, help="patch grid stride")
    parser.add_argument("--window", choices=WINDOWS, default=defaults.window)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--map-max", type=float, default=defaults.map_max)
    parser.add_argument("--patch-size", type=int, default=defaults.patch_size)
    parser.add_argument("--seed", type=int, default=2021, help="seed of the random sign")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def _infer(args: argparse.Namespace) -> None:
    """Write <stem>_jnd.png, _jnd_map.npy/.png, _residual.npy, _summary.json per image."""
    import torch

    from vvcjnd.infer.profile import InferSettings, infer_image_file, load_inference_model
    from vvcjnd.paths import profile_paths

    settings = InferSettings(
        f_c=args.f_c,
        sign=args.sign,
        stride=args.stride,
        window=args.window,
        batch_size=args.batch_size,
        map_max=args.map_max,
        patch_size=args.patch_size,
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_inference_model(args.checkpoint)
    for image_path in args.images:
        paths = profile_paths(args.output, f"{image_path.stem}_")
        summary = infer_image_file(
            model, image_path, paths, settings, args.seed, image_path.stem, args.checkpoint
        )
        print(f"{image_path}: PSNR {summary['psnr_db']:.2f} dB -> {paths['jnd_png']}")


def _add_import_checkpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="the authors' state_dict (e.g. JND_95676_G.pth)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="our checkpoint (.pt)")


def _import_checkpoint(args: argparse.Namespace) -> None:
    from vvcjnd.model.authors import import_checkpoint

    info = import_checkpoint(args.source, args.output)
    print(
        f"{args.source}: release network, width {info['width']}, sha256 {info['sha256']}; "
        f"mapped {info['keys']} keys, ignored {info['ignored_keys']} of never-run branches "
        f"-> {args.output}"
    )


def _add_apply_network(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patches", type=Path, help="float32 (N, 1, H, W) .npy in [-1, 1]")
    parser.add_argument(
        "--checkpoint", required=True, type=Path, help="our .pt or the authors' .pth"
    )
    parser.add_argument("-o", "--output", required=True, type=Path, help="output .npy")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def _apply_network(args: argparse.Namespace) -> None:
    import io

    import numpy as np
    import torch

    from vvcjnd.io import write_bytes
    from vvcjnd.model.authors import load_any_model
    from vvcjnd.model.checkpoint import describe_origin
    from vvcjnd.model.network import apply_network

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        patches = np.load(args.patches, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise VvcjndError(f"cannot read {args.patches} as a .npy array: {exc}") from exc
    model, _, state = load_any_model(args.checkpoint)
    try:
        output = apply_network(model, patches, args.batch_size)
    except VvcjndError as exc:
        raise VvcjndError(f"{args.patches}: {exc}") from exc
    buffer = io.BytesIO()
    np.save(buffer, output, allow_pickle=False)
    write_bytes(args.output, buffer.getvalue())
    print(f"{len(output)} patches through {describe_origin(state)} -> {args.output}")


def _add_subjective(parser: argparse.ArgumentParser) -> None:
    """``subjective serve --db DB [--stimuli TSV] [--host H] [--port P]`` and
    ``subjective export --db DB -o DIR`` (docs/subjective.md)."""
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="run the browser test server")
    serve.add_argument("--db", type=Path, required=True, help="SQLite database (created if new)")
    serve.add_argument(
        "--stimuli", type=Path, help="stimulus manifest (default: stimuli.tsv beside the database)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    export = sub.add_parser("export", help="write samples.tsv, trials.tsv and subjects.tsv")
    export.add_argument("--db", type=Path, required=True, help="the test's SQLite database")
    export.add_argument("-o", "--output", type=Path, required=True, help="output folder")


def _subjective(args: argparse.Namespace) -> None:
    if args.action == "serve":
        from vvcjnd.subjective.server import serve

        serve(args.db, args.stimuli, args.host, args.port)
        return
    from vvcjnd.subjective.export import export

    for path in export(args.db, args.output).values():
        print(f"wrote {path}")


def _codecs(args: argparse.Namespace) -> None:
    """One line per codec: its config name, level scale, input kind and version here."""
    from vvcjnd.config import load_config
    from vvcjnd.distort.codecs import CODECS

    encode = load_config(args.config)["encode"]
    for name, cls in CODECS.items():
        print(f"{name:9} {cls.scale.describe():42} takes {cls.takes:7} {_probe(encode, name)}")


def _probe(encode: dict, name: str) -> str:
    """The version a 64x64 mid-grey encode of codec ``name`` reports, or why it cannot run."""
    import tempfile

    from vvcjnd.distort.codecs import Frame, codec_from_config

    try:
        codec = codec_from_config(encode, name)
        codec.check()
        with tempfile.TemporaryDirectory(prefix="vvcjnd-probe-") as tmp:
            folder = Path(tmp)
            source = folder / f"grey.{codec.takes}"
            source.write_bytes(bytes([128]) * (64 * 64 * 3 // (1 if codec.takes == "rgb" else 2)))
            level = codec.scale.in_distortion_order([codec.scale.low, codec.scale.high])[-1]
            frame = Frame(source, 64, 64, 8, level, folder / "probe.bin", folder / "probe.out")
            log = codec.encode(frame, None, 10).output
            return codec.parse_version(codec.version_text(None, 10) + "\n" + log)
    except VvcjndError as error:
        return f"not available: {error}"


def _add_codecs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path("config.yaml"), help="config file")


def _commands() -> dict:
    return {
        "check-config": (_add_check_config, _check_config, "validate a config file"),
        "config-docs": (_add_config_docs, _config_docs, "render the config reference (Markdown)"),
        "ladder": (_add_ladder, _ladder, "encode and decode one PNG at a QP ladder"),
        "codecs": (_add_codecs, _codecs, "list the codecs, their level scales and versions here"),
        "compare-checksums": (
            _add_compare_checksums,
            _compare_checksums,
            "compare the dataset checksums of two runs",
        ),
        "infer": (_add_infer, _infer, "JND profiles of images with a trained model"),
        "import-checkpoint": (
            _add_import_checkpoint,
            _import_checkpoint,
            "convert the authors' released weights (.pth) into our checkpoint",
        ),
        "apply-network": (
            _add_apply_network,
            _apply_network,
            "run the bare network on (N, 1, H, W) patches in [-1, 1]",
        ),
        "subjective": (
            _add_subjective,
            _subjective,
            "the browser JND test: serve it, export its answers",
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status (2 for bad input)."""
    parser = argparse.ArgumentParser(prog="python -m vvcjnd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    runners = {}
    for name, (add, run, help_text) in _commands().items():
        add(sub.add_parser(name, help=help_text))
        runners[name] = run
    args = parser.parse_args(argv)
    try:
        runners[args.command](args)
    except VvcjndError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
