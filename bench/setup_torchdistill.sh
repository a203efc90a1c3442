#!/usr/bin/env bash
# Install torchdistill for bench/bench_torchdistill.py only: into .bench/site (never into .venv or the project's
# dependencies). Its other requirements (torch, torchvision, numpy, pyyaml, scipy) are already in .venv; cython,
# which it lists but which the KD code path does not import, goes into .bench/site too.
#     bash bench/setup_torchdistill.sh        # then: .venv/bin/python bench/bench_torchdistill.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TARGET=${TARGET:-.bench/site}
VERSION=${TORCHDISTILL_VERSION:-1.1.5}
if PYTHONPATH="$TARGET" "$PY" -c "import torchdistill, sys; sys.exit(torchdistill.__version__ != '$VERSION')" 2>/dev/null; then
  echo "torchdistill $VERSION already in $TARGET"; exit 0
fi
mkdir -p "$TARGET"
"$PY" -m pip install -q --upgrade --target "$TARGET" --no-deps "torchdistill==$VERSION" cython
PYTHONPATH="$TARGET" "$PY" -c "import torch, torchdistill; from torchdistill.losses.registry import get_mid_level_loss; from torchdistill.core.distillation import get_distillation_box; print(f'torchdistill {torchdistill.__version__} in $TARGET imports with torch {torch.__version__}')"
