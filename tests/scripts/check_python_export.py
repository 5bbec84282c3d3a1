"""Checks that python/ganaug_generator.py reproduces ganaug's images.

usage: check_python_export.py GENERATOR.pt VECTORS.pt
VECTORS.pt (torch::pickle_save from the C++ test) holds "noise", "classes" and the "images"
ganaug drew from them. Exit status 0 when the images match within float tolerance.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from ganaug_generator import load_generator  # noqa: E402


def main(generator_path, vectors_path):
    generator, names = load_generator(generator_path)
    vectors = torch.load(vectors_path, weights_only=True)
    with torch.no_grad():
        images = generator(vectors["noise"], vectors["classes"])
    expected = vectors["images"]
    difference = (images - expected).abs().max().item()
    print(f"classes {names}; images {tuple(images.shape)}; largest difference {difference:.2e}")
    if images.shape != expected.shape or difference > 1e-4:
        print("the Python generator does not reproduce ganaug's images", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
