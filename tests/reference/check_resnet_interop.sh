#!/bin/sh
# check_resnet_interop.sh — fastc model files <-> PyTorch, both ways (needs python3-torch).
# 1. fastc saves a resnet18; PyTorch loads it into fastai's model with strict=True.
# 2. PyTorch writes torchvision resnet18/50 files; fastc loads them as `pretrained =`
#    and must hold exactly the weights fastai's body would.
set -eu
cd "$(dirname "$0")/../.."
make -s build/release/tests/test_safetensors
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
CK_RUN_CASE=resnet FASTC_EXPORT_DIR="$dir" build/release/tests/test_safetensors
/usr/bin/python3 tests/reference/load_fastc_resnet.py "$dir"
CK_RUN_CASE=resnet FASTC_TV_DIR="$dir" build/release/tests/test_safetensors
echo "interop OK"
