#!/usr/bin/env bash
# The GPU check in one short run (a few minutes): the Kornia path (RandomCausalResample against
# kornia's RandomTransplantation, p = 0.5 against p = 1, the GAN through the transform against the
# bare generator) and the generator against the GPU's measured matmul/conv peak, on CUDA.
# Writes benchmarks/results/throughput_cuda.json and .png. Everything else runs without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: torch.cuda.is_available() is False')"
pip install --no-deps -e . > /dev/null
python benchmarks/throughput.py --device cuda "$@"
