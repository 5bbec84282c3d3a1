"""ganaug's conditional generator in plain PyTorch.

Loads a generator exported by ganaug (``ganaug-export --generator CKPT --out G.pt``) and draws
the same images as ganaug for the same classes and noise (within float tolerance):

    from ganaug_generator import load_generator
    g, class_names = load_generator("G.pt")
    noise = torch.randn(16, g.latent_dim)
    classes = torch.arange(16) % g.num_classes
    images = g(noise, classes)          # 16 x C x S x S in [-1, 1]

Run as a script it writes a grid of samples:  python3 ganaug_generator.py G.pt grid.png
Needs only PyTorch (>= 1.13, for torch.load(weights_only=True)).
"""

import sys

import torch
from torch import nn
from torch.nn import functional as F

FORMAT = "ganaug-generator-v1"


class ConditionalBatchNorm(nn.Module):
    """BatchNorm2d without affine terms, then a per-class scale and shift."""

    def __init__(self, features, num_classes):
        super().__init__()
        self.norm = nn.BatchNorm2d(features, affine=False)
        self.scale = nn.Embedding(num_classes, features)
        self.shift = nn.Embedding(num_classes, features)

    def forward(self, x, classes):
        gamma = self.scale(classes)[:, :, None, None]
        beta = self.shift(classes)[:, :, None, None]
        return self.norm(x) * gamma + beta


class GanaugGenerator(nn.Module):
    """(noise N x latent_dim, classes N) -> images N x C x S x S in [-1, 1]; see lib/src/models/models.cpp."""

    def __init__(self, num_classes, image_size=28, channels=1, latent_dim=64, width=32):
        super().__init__()
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        self.latent_dim, self.width = latent_dim, width
        # Above 64 pixels, one more sub-pixel stage per doubling (conv3/norm3, ...), so that the
        # projection stays at 16 x 16 at most.
        self.extra_stages = 0
        while image_size // 4 >> self.extra_stages > 16:
            self.extra_stages += 1
        base, w = image_size // 4 >> self.extra_stages, width
        self.class_embedding = nn.Embedding(num_classes, latent_dim)
        self.project = nn.Linear(2 * latent_dim, 2 * w * base * base)
        self.norm0 = ConditionalBatchNorm(2 * w, num_classes)
        self.conv1 = nn.Conv2d(2 * w, 4 * w, 3, padding=1)
        self.norm1 = ConditionalBatchNorm(w, num_classes)
        self.conv2 = nn.Conv2d(w, w, 3, padding=1)
        self.norm2 = ConditionalBatchNorm(w, num_classes)
        for i in range(self.extra_stages):
            setattr(self, f"conv{3 + i}", nn.Conv2d(w, 4 * w, 3, padding=1))
            setattr(self, f"norm{3 + i}", ConditionalBatchNorm(w, num_classes))
        self.to_image = nn.Conv2d(w, 4 * channels, 3, padding=1)

    def forward(self, noise, classes):
        base = self.image_size // 4 >> self.extra_stages
        h = self.project(torch.cat([noise, self.class_embedding(classes)], 1))
        h = h.view(noise.shape[0], 2 * self.width, base, base)
        h = F.relu(self.norm0(h, classes))
        h = F.pixel_shuffle(self.conv1(h), 2)
        h = F.relu(self.norm1(h, classes))
        h = F.relu(self.norm2(self.conv2(h), classes))
        for i in range(self.extra_stages):
            h = F.pixel_shuffle(getattr(self, f"conv{3 + i}")(h), 2)
            h = F.relu(getattr(self, f"norm{3 + i}")(h, classes))
        return torch.tanh(F.pixel_shuffle(self.to_image(h), 2))


def load_generator(path, device="cpu"):
    """Returns (generator in evaluation mode, class names) from a file ganaug exported."""
    data = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a ganaug generator export ({FORMAT})")
    generator = GanaugGenerator(data["num_classes"], data["image_size"], data["channels"],
                                data["latent_dim"], data["width"])
    generator.load_state_dict(data["state_dict"], strict=True)
    return generator.to(device).eval(), list(data["class_names"])


def main(argv):
    if len(argv) != 3:
        print("usage: ganaug_generator.py GENERATOR.pt GRID.png", file=sys.stderr)
        return 2
    generator, names = load_generator(argv[1])
    per_class = 8
    classes = torch.arange(generator.num_classes).repeat_interleave(per_class)
    with torch.no_grad():
        images = generator(torch.randn(len(classes), generator.latent_dim), classes)
    # A grid with one row per class, written without torchvision: PNG through PIL when present.
    grid = images.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    n, c, s, _ = grid.shape
    grid = grid.view(generator.num_classes, per_class, c, s, s).permute(0, 3, 1, 4, 2)
    grid = grid.reshape(generator.num_classes * s, per_class * s, c).squeeze(2).numpy()
    from PIL import Image  # python3-pil

    Image.fromarray(grid).save(argv[2])
    print(f"wrote {argv[2]}: {per_class} samples of each of {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
