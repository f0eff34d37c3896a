"""A small safetensors reader and writer for the PyTorch example (Debian ships no
python3-safetensors): an 8-byte little-endian header length N, N bytes of JSON
{name: {dtype, shape, data_offsets}}, then the raw little-endian tensor bytes."""
import json
import struct

import torch

_DTYPES = {"F64": torch.float64, "F32": torch.float32, "BF16": torch.bfloat16,
           "F16": torch.float16, "I64": torch.int64}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read(path):
    """Returns {name: tensor} for every tensor of the file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = bytearray(data[8 + n:])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        count = (end - begin) // torch.tensor([], dtype=dtype).element_size()
        flat = torch.frombuffer(body, dtype=dtype, count=count, offset=begin) if count else \
            torch.empty(0, dtype=dtype)
        tensors[name] = flat.clone().reshape(info["shape"])
    return tensors


def write(path, tensors):
    """Writes {name: tensor} (F64, F32, F16 or I64 tensors) to path."""
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    import os
    os.replace(path + ".tmp", path)
