#!/usr/bin/env bash
# A short tour of the model store on a throw-away engine directory (./demo/engine):
# a baked-in model, a mounted external one, a pulled one, then list / verify / rm.
set -euo pipefail
cd "$(dirname "$0")/.."
enginekit=(.venv/bin/enginekit models --engine-dir demo/engine)

rm -rf demo
mkdir -p demo/engine/models/default demo/engine/external_models/custom demo/downloads
echo '{"type": "baked-in"}' > demo/engine/models/default/model.json
echo '{"type": "mounted"}' > demo/engine/external_models/custom/model.json
head -c 3000000 /dev/urandom > demo/downloads/weights.bin
sha=$(sha256sum demo/downloads/weights.bin | cut -d' ' -f1)

set -x
"${enginekit[@]}" link
"${enginekit[@]}" pull pulled --source "file://$PWD/demo/downloads/weights.bin" --sha256 "$sha"
"${enginekit[@]}" list
"${enginekit[@]}" verify
"${enginekit[@]}" rm pulled
"${enginekit[@]}" list
