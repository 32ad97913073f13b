#!/usr/bin/env bash
# GPU check of a torch engine, on a machine with an NVIDIA GPU:
#   tools/gpu-check.sh ENGINE        (xtts, chatterbox, vibevoice: any engine with a tiny_model.py)
# Makes the engine's environment with a CUDA build of torch, builds its tiny random-weight model,
# runs the engine with ENGINE_DEVICE=cuda, and prints the device, /health's GPU memory fields and
# the time of one generation. Needs PyPI (the CUDA torch wheel is about 1 GB plus CUDA libraries).
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${1:?usage: tools/gpu-check.sh ENGINE}
command -v nvidia-smi >/dev/null || { echo "[gpu-check] no NVIDIA GPU here (no nvidia-smi)" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

make --no-print-directory .venv/.installed
dir=$(.venv/bin/enginekit engines list --json | ENGINE="$engine" python3 -c '
import json, os, sys
rows = [r for r in json.load(sys.stdin) if r["name"] == os.environ["ENGINE"]]
print(os.path.dirname(rows[0]["path"]) if rows else "")')
[[ -n $dir ]] || { echo "[gpu-check] no engine $engine in engines/" >&2; exit 2; }
[[ -f $dir/tiny_model.py ]] || { echo "[gpu-check] $engine has no tiny_model.py" >&2; exit 2; }
python=$dir/.venv/bin/python

# PyPI's wheel of the pinned torch is the CUDA build; this project's CPU machines configure pip
# to prefer a local CPU build, so pip's configuration is bypassed here.
flags=()
if [[ -x $python ]] && ! "$python" -c 'import sys, torch; sys.exit(torch.version.cuda is None)'; then
    echo "[gpu-check] $engine's environment has a CPU torch: rebuilding it with CUDA torch"
    flags+=(--recreate)
fi
env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null \
    .venv/bin/enginekit engines install "$engine" "${flags[@]}"
"$python" -c 'import torch; assert torch.cuda.is_available(), "torch sees no GPU"; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0))'

work=$(mktemp -d)
cleanup() { [[ -n ${server:-} ]] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/engine"
cp "$dir"/*.py "$dir/engine.yaml" "$work/engine/"
"$python" "$dir/tiny_model.py" "$work/engine/models/tiny"
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENGINE_DEVICE=cuda LOG_LEVEL=INFO "$python" "$work/engine/server.py" --port "$port" >"$work/server.log" 2>&1 &
server=$!

PORT=$port "$python" - <<'PY' || { tail -40 "$work/server.log"; exit 1; }
import io, os, time
import httpx, numpy as np, soundfile

url = f"http://127.0.0.1:{os.environ['PORT']}"
for _ in range(600):
    try:
        if httpx.get(f"{url}/health", timeout=2).status_code == 200:
            break
    except httpx.TransportError:
        time.sleep(0.2)
client = httpx.Client(base_url=url, timeout=600)
assert client.post("/load", json={"engineModelName": "tiny"}).status_code == 200
wav = io.BytesIO()
t = np.arange(44100) / 22050
soundfile.write(wav, 0.3 * np.sin(2 * np.pi * 180 * t), 22050, format="WAV")
client.post("/samples/upload/gpu-check", content=wav.getvalue()).raise_for_status()
body = {"text": "A short sentence for the GPU check.", "language": "en",
        "ttsSpeakerWav": "gpu-check.wav", "parameters": {}}
client.post("/generate", json=body).raise_for_status()  # warm-up: kernels, cloning
started = time.monotonic()
reply = client.post("/generate", json=body)
reply.raise_for_status()
seconds = time.monotonic() - started
audio = (len(reply.content) - 44) / 2 / 24000
health = client.get("/health").json()
print(f"device: {health['device']}")
print(f"gpuMemoryUsedMb: {health['gpuMemoryUsedMb']}  gpuMemoryTotalMb: {health['gpuMemoryTotalMb']}")
print(f"generation: {seconds:.2f} s for {audio:.2f} s of audio")
assert health["device"] == "cuda", health
PY
