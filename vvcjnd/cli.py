"""Command line for use outside the workflow: ``python -m vvcjnd <command> ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vvcjnd.errors import VvcjndError


def _check_config(args: argparse.Namespace) -> None:
    from vvcjnd.config import load_config
    from vvcjnd.encoders import codec_from_config

    config = load_config(args.config)
    codec_from_config(config["encode"]).check()
    print(f"{args.config}: valid")


def _add_check_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="YAML config file to validate")


def _ladder(args: argparse.Namespace) -> None:
    import json

    from vvcjnd.colour import YuvFormat
    from vvcjnd.config import load_config, qp_ladder
    from vvcjnd.encoders import codec_from_config
    from vvcjnd.ladder import run_ladder

    config = load_config(args.config)
    qps = args.qp or qp_ladder(config)
    out_dir = args.output / args.image.stem
    record = run_ladder(
        args.image,
        out_dir,
        out_dir.with_suffix(".json"),
        codec_from_config(config["encode"]),
        YuvFormat.from_config(config["colour"]),
        qps,
        workers=config["encode"]["threads"],
        timeout_s=config["encode"]["timeout_s"],
        log=args.output / f"{args.image.stem}.log",
    )
    for point in record["points"]:
        print(json.dumps({k: point[k] for k in ("qp", "bytes", "psnr_y", "encode_s")}))


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
    parser.add_argument(
        "--qp", type=int, nargs="+", help="QPs (0..63); default: the config's ladder"
    )


def _commands() -> dict:
    from vvcjnd.infer import add_infer_arguments, run_infer

    return {
        "check-config": (_add_check_config, _check_config, "validate a config file"),
        "config-docs": (_add_config_docs, _config_docs, "render the config reference (Markdown)"),
        "ladder": (_add_ladder, _ladder, "encode and decode one PNG at a QP ladder"),
        "compare-checksums": (
            _add_compare_checksums,
            _compare_checksums,
            "compare the dataset checksums of two runs",
        ),
        "infer": (add_infer_arguments, run_infer, "JND profiles of images with a trained model"),
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
