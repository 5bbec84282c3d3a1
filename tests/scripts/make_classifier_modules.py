"""Writes the TorchScript classifiers that tests/test_custom_network.cpp trains and refuses.

usage: make_classifier_modules.py OUT_DIR CHANNELS SIZE CLASSES

A user of `augment --classifier net.pt` saves a network the same way (README, "Your own
classifier"): torch.jit.script(model).save("net.pt").
"""
import sys

import torch
from torch import nn


class SmallCnn(nn.Module):
    """Two convolutions with batch norm and pooling, dropout, a linear layer."""

    def __init__(self, channels: int, size: int, outputs: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())
        self.dropout = nn.Dropout(0.2)
        self.output = nn.Linear(16 * (size // 4) ** 2, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(self.features(x)))


class NormalisedInput(nn.Module):
    """Batch norm on the input, then a linear layer: its running statistics are the images'."""

    def __init__(self, channels: int, size: int, outputs: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)
        self.output = nn.Linear(channels * size * size, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.norm(x).flatten(1))


class InPlaceNormalised(SmallCnn):
    """Normalises its input in place first (a common idiom), then SmallCnn."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x -= 0.25
        x /= 0.75
        return self.output(self.dropout(self.features(x)))


class OutOfPlaceNormalised(SmallCnn):
    """InPlaceNormalised's arithmetic into new tensors."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - 0.25
        x = x / 0.75
        return self.output(self.dropout(self.features(x)))


class Endless(SmallCnn):
    """A forward that never returns."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        while bool(y.sum() > -1.0e30):
            y = y + 0.0
        return self.output(self.dropout(self.features(y)))


class FixedSize(nn.Module):
    """Only takes images of one side (its linear layer reads every pixel)."""

    def __init__(self, channels: int, size: int, outputs: int):
        super().__init__()
        self.output = nn.Linear(channels * size * size, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(x.flatten(1))


class NotANumber(nn.Module):
    def __init__(self, channels: int, size: int, outputs: int):
        super().__init__()
        self.net = SmallCnn(channels, size, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * float("nan")


def main() -> None:
    out, channels, size, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.manual_seed(0)

    def save(model: nn.Module, name: str) -> None:
        torch.jit.script(model).save(f"{out}/{name}")

    save(SmallCnn(channels, size, classes), "cnn.pt")
    save(SmallCnn(channels, size, classes + 1), "cnn_newclass.pt")
    save(NormalisedInput(channels, size, classes), "normalised_input.pt")
    save(SmallCnn(3 if channels == 1 else 1, size, classes), "other_channels.pt")
    save(FixedSize(channels, size * 2, classes), "other_size.pt")
    save(NotANumber(channels, size, classes), "nan.pt")
    save(Endless(channels, size, classes), "endless.pt")
    # The same weights, normalised in place and out of place.
    torch.manual_seed(1)
    save(InPlaceNormalised(channels, size, classes), "in_place.pt")
    torch.manual_seed(1)
    save(OutOfPlaceNormalised(channels, size, classes), "out_of_place.pt")
    # Traced in evaluation mode: its batch norm never updates; its statistics must survive.
    traced = NormalisedInput(channels, size, classes).eval()
    with torch.no_grad():
        traced.norm.running_mean.fill_(0.25)
        traced.norm.running_var.fill_(4.0)
    torch.jit.trace(traced, torch.zeros(2, channels, size, size)).save(f"{out}/traced_eval.pt")
    frozen = SmallCnn(channels, size, classes)
    for p in frozen.parameters():
        p.requires_grad_(False)
    save(frozen, "frozen.pt")
    with open(f"{out}/not_a_module.pt", "w") as text:
        text.write("a text file, not a TorchScript module\n")


if __name__ == "__main__":
    main()
