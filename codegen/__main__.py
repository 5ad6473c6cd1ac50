"""python -m codegen CHECKPOINT [-o DIR] [--vectors FILE] [--check] [--quiet]

Turns a student checkpoint into C tables for the firmware and a manifest of the model's facts.

It writes `bitear_model_tables.h/.c`, the same integer arrays as `bitear_model_arrays.npz` and
their manifest `bitear_model_manifest.json` (for host tools: labels, layers with kernel / stride /
pad / skip, exits, thresholds, MACs, front end, checkpoint sha256, the files' sha256) into DIR
(-o/--out, default firmware/lib/bitear) and prints the size and cost table. With the default DIR
it also writes the on-board test vectors
firmware/test/test_kernels/model_vectors.h (or FILE; `--vectors none` skips them). `--check`
writes nothing and exits 1 when any of these files differs from what the checkpoint gives
(stale), 0 when they are current. Tables written elsewhere must end up next to bitear_model.h to
be used: the runtime includes "bitear_model_tables.h" from its own folder first.

Errors a user can fix (missing, corrupt, truncated or incompatible checkpoint, front-end
parameters that differ from the C front end's; model.checkpoint's validator, the same as
model.evaluate's) are one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import warnings
from pathlib import Path

from codegen import intmodel
from model import checkpoint
from model.checkpoint import read_checkpoint
from model.errors import BitearError
from model.paths import PLUGIN_DIR, REPO_ROOT

DEFAULT_OUT = PLUGIN_DIR
DEFAULT_VECTORS = REPO_ROOT / "firmware" / "test" / "test_kernels" / "model_vectors.h"

# The front-end check is model.checkpoint's (one validator for codegen and model.evaluate).
check_frontend = checkpoint.check_frontend


def current_frontend() -> dict | None:
    try:
        from model.frontend import FRONTEND_PARAMS
    except ImportError:
        return None
    return dict(FRONTEND_PARAMS)


def load(checkpoint: str | Path, frontend_params: dict | None | str = "current"):
    """Read, check and quantize a checkpoint: (IntModel, warnings). Raises BitearError."""
    path = Path(checkpoint)
    tensors, meta = read_checkpoint(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    current = current_frontend() if frontend_params == "current" else frontend_params
    try:
        warns = check_frontend(meta["frontend"], meta["config"], current, path)
        model = intmodel.build(tensors, meta, sha)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise BitearError(f"checkpoint {path}: incompatible metadata or tensors ({type(e).__name__}: {e})") from None
    return model, warns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__.splitlines()[2])
    parser.add_argument("checkpoint", help="student checkpoint (.safetensors)")
    parser.add_argument("-o", "--out", default=str(DEFAULT_OUT),
                        help="output folder for the tables, their arrays and the manifest (default firmware/lib/bitear)")
    parser.add_argument("--vectors", default=None,
                        help="test vectors header (default: firmware/test/test_kernels/model_vectors.h when -o is the "
                             "default, else none; 'none' to skip)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the generated files in --out are stale")
    parser.add_argument("--quiet", action="store_true", help="do not print the size table")
    args = parser.parse_args(argv)
    try:
        from codegen import generate, sizes

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, warns = load(args.checkpoint)
        for w in warns:
            print(f"codegen: warning: {w}", file=sys.stderr)
        vectors = args.vectors
        if vectors is None:
            vectors = str(DEFAULT_VECTORS) if Path(args.out).resolve() == DEFAULT_OUT.resolve() else "none"
        vectors = None if vectors == "none" else Path(vectors)
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                fresh = generate.write(model, tmp)
                pairs = [(p, Path(args.out) / p.name) for p in fresh]
                if vectors is not None:
                    pairs.append((generate.write_vectors(model, Path(tmp) / vectors.name), vectors))
                stale = [str(mine) for new, mine in pairs if not mine.is_file() or mine.read_bytes() != new.read_bytes()]
            if stale:
                print(f"codegen: stale: {', '.join(stale)} differ from what {args.checkpoint} gives "
                      f"(run: python -m codegen {args.checkpoint} -o {args.out})", file=sys.stderr)
                return 1
            print(f"codegen: {args.out} is up to date with {args.checkpoint}")
            return 0
        paths = generate.write(model, args.out)
        if vectors is not None:
            paths.append(generate.write_vectors(model, vectors))
        if not args.quiet:
            print(sizes.format_table(model))
        print("codegen: wrote " + ", ".join(str(p) for p in paths))
        return 0
    except BitearError as e:
        print(f"codegen: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"codegen: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
