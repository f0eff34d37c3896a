"""Runs the PyTorch MLA of mla.py on every case of an `attnlab golden` directory, in each case's
phase (its "chunks": tokens per forward through the module's own cache), and writes
OUT/<case directory>.safetensors with attn_output and lse, for `attnlab compare GOLDEN OUT`.

usage: run_golden.py GOLDEN OUT [--form naive|absorb] [--drop-kv-b-bias] [--dtype float32|float64]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from mla import MLA  # noqa: E402


def run_case(case_dir, out_path, form, drop_kv_b_bias, dtype):
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    if case["variant"] != "mla":
        raise SystemExit(f"{case_dir}: this example implements MLA only, not {case['variant']}")
    module = MLA(case, form, drop_kv_b_bias).to(dtype)
    module.load({k: v.to(dtype) for k, v in safetensors_io.read(
        os.path.join(case_dir, "weights.safetensors")).items()})
    inputs = safetensors_io.read(os.path.join(case_dir, "inputs.safetensors"))
    x, positions = inputs["hidden_states"].to(dtype), inputs["position_ids"]
    cache, outs, lses, first = {}, [], [], 0
    with torch.no_grad():
        for n in case["chunks"]:
            out, lse = module(x[:, first:first + n], positions[:, first:first + n], cache)
            outs.append(out)
            lses.append(lse)
            first += n
    safetensors_io.write(out_path, {"attn_output": torch.cat(outs, 1), "lse": torch.cat(lses, 1)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("golden")
    parser.add_argument("out")
    parser.add_argument("--form", choices=["naive", "absorb"], default="naive")
    parser.add_argument("--drop-kv-b-bias", action="store_true")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    a = parser.parse_args()
    with open(os.path.join(a.golden, "index.json")) as f:
        index = json.load(f)
    os.makedirs(a.out, exist_ok=True)
    for entry in index["cases"]:
        run_case(os.path.join(a.golden, entry["dir"]),
                 os.path.join(a.out, entry["dir"] + ".safetensors"), a.form, a.drop_kv_b_bias,
                 getattr(torch, a.dtype))
    print(f"run_golden: wrote {len(index['cases'])} outputs ({a.form}"
          f"{', kv_b_proj bias dropped' if a.drop_kv_b_bias else ''}) to {a.out}")


if __name__ == "__main__":
    main()
