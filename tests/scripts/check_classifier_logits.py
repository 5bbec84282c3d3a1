"""Loads a classifier that ganaug saved as TorchScript and checks that it gives ganaug's logits.

usage: check_classifier_logits.py MODEL.pt IMAGES.f32 LOGITS.f32 N C S K
IMAGES.f32 holds N x C x S x S float32 values, LOGITS.f32 N x K (raw, native byte order).
"""
import sys

import torch

model_path, images_path, logits_path = sys.argv[1:4]
n, c, s, k = (int(v) for v in sys.argv[4:8])
model = torch.jit.load(model_path)
model.eval()
images = torch.from_file(images_path, size=n * c * s * s, dtype=torch.float32).view(n, c, s, s)
expected = torch.from_file(logits_path, size=n * k, dtype=torch.float32).view(n, k)
with torch.no_grad():
    logits = model(images)
difference = (logits - expected).abs().max().item()
print(f"largest difference {difference:.3g}")
sys.exit(0 if torch.allclose(logits, expected, rtol=1e-4, atol=1e-4) else 1)
