#!/usr/bin/env python3
"""The Python reference for bench_gan: a conditional GAN in plain PyTorch (eager), trained on
random 28x28 gray images at batch 64, reporting training images/s.

Two models:
  --model dcgan   (the default) a plain conditional DCGAN as FACTS.md describes the reference:
                  G = embedding + Linear to 80x7x7, BN, two ConvTranspose2d (0.59 M
                  parameters); D = two strided 4x4 convolutions with a projection head; hinge
                  loss, Adam (0.5, 0.999), no spectral norm, no DiffAugment, no EMA.
  --model ganaug  ganaug's default model written in PyTorch: conditional batch norm, sub-pixel
                  upsampling, spectrally normalised projection D with the minibatch-std feature,
                  hinge loss, mode seeking, DiffAugment translation+cutout, EMA. Same layers and
                  FLOPs as ganaug's, so the ratio measures the implementation, not the model.

Usage: reference_cgan.py [--model dcgan|ganaug] [--iterations N] [--threads T] [--device D]
                         [--batch-size B] [--image-size S] [--channels C]
                         [--memory-format channels_last|contiguous] [--json]
Losses are not read during the timed steps (no .item() per step); on CUDA the clock stops after
torch.cuda.synchronize().
Needs python3-torch (Debian). Prints "images_per_s <value>" (or JSON with --json).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

K, SIZE, CH, LATENT, BATCH = 10, 28, 1, 64, 64  # SIZE, CH and BATCH: set from the options


# ---------------------------------------------------------------- plain conditional DCGAN
class DcganG(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(K, LATENT)
        self.project = nn.Linear(2 * LATENT, 80 * (SIZE // 4) ** 2)
        self.net = nn.Sequential(
            nn.BatchNorm2d(80), nn.ReLU(True),
            nn.ConvTranspose2d(80, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, CH, 4, 2, 1), nn.Tanh())

    def forward(self, z, y):
        h = self.project(torch.cat([z, self.embed(y)], 1)).view(-1, 80, SIZE // 4, SIZE // 4)
        return self.net(h)


class DcganD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(CH, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True))
        self.head = nn.Linear(128 * (SIZE // 4) ** 2, 1)
        self.embed = nn.Embedding(K, 128 * (SIZE // 4) ** 2)

    def forward(self, x, y):
        h = self.net(x).flatten(1)
        return self.head(h).squeeze(1) + (self.embed(y) * h).sum(1)


# ---------------------------------------------------------------- ganaug's default model
class CondBN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, affine=False)
        self.gain = nn.Embedding(K, c)
        self.bias = nn.Embedding(K, c)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x, y):
        return self.bn(x) * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class GanaugG(nn.Module):
    def __init__(self, w=32):
        super().__init__()
        self.w = w
        self.embed = nn.Embedding(K, LATENT)
        self.project = nn.Linear(2 * LATENT, 2 * w * (SIZE // 4) ** 2)
        self.norm0 = CondBN(2 * w)
        self.conv1 = nn.Conv2d(2 * w, 4 * w, 3, padding=1)
        self.norm1 = CondBN(w)
        self.conv2 = nn.Conv2d(w, w, 3, padding=1)
        self.norm2 = CondBN(w)
        self.to_image = nn.Conv2d(w, 4 * CH, 3, padding=1)

    def forward(self, z, y):
        h = self.project(torch.cat([z, self.embed(y)], 1)).view(-1, 2 * self.w, SIZE // 4, SIZE // 4)
        h = F.relu(self.norm0(h, y))
        h = F.relu(self.norm1(F.pixel_shuffle(self.conv1(h), 2), y))
        h = F.relu(self.norm2(self.conv2(h), y))
        return torch.tanh(F.pixel_shuffle(self.to_image(h), 2))


class MinibatchStd(nn.Module):
    def forward(self, x):
        n, c, h, w = x.shape
        g = 4
        while g > 1 and n % (2 * g) != 0:
            g //= 2
        s = x.view(g, -1, c, h, w).std(0, unbiased=False).mean([1, 2, 3])
        return torch.cat([x, s.repeat(g)[:, None, None, None].expand(n, 1, h, w)], 1)


class GanaugD(nn.Module):
    def __init__(self, w=32):
        super().__init__()
        sn = nn.utils.spectral_norm
        self.features = nn.Sequential(
            sn(nn.Conv2d(CH, w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
            MinibatchStd(), sn(nn.Conv2d(2 * w + 1, 2 * w, 3, 1, 1)), nn.LeakyReLU(0.2))
        self.head = sn(nn.Linear(2 * w, 1))
        self.embed = sn(nn.Linear(K, 2 * w, bias=False))

    def forward(self, x, y):
        h = self.features(x).sum([2, 3])
        return self.head(h).squeeze(1) + (self.embed(F.one_hot(y, K).float()) * h).sum(1)


def diff_augment(x):
    n, ch, h, w = x.shape
    dev = x.device
    s = int(h * 0.125 + 0.5)
    dy = torch.randint(-s, s + 1, (n, 1, 1), device=dev)
    dx = torch.randint(-s, s + 1, (n, 1, 1), device=dev)
    rows = (torch.arange(h, device=dev).view(1, h, 1) + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=dev).view(1, 1, w) + dx + 1).clamp(0, w + 1)
    index = (rows * (w + 2) + cols).view(n, 1, h * w).expand(n, ch, h * w)
    padded = F.pad(x, (1, 1, 1, 1)).reshape(n, ch, (h + 2) * (w + 2))
    x = padded.gather(2, index).view(n, ch, h, w)
    c = h // 2
    top = torch.randint(0, h + 1, (n, 1, 1), device=dev) - c // 2
    left = torch.randint(0, w + 1, (n, 1, 1), device=dev) - c // 2
    r = torch.arange(h, device=dev).view(1, h, 1)
    q = torch.arange(w, device=dev).view(1, 1, w)
    inside = (r >= top) & (r < top + c) & (q >= left) & (q < left + c)
    return x * (~inside).unsqueeze(1).float()


def train(model, iterations, images, labels, memory_format, precision="fp32"):
    ganaug = model == "ganaug"
    dev = images.device
    g, d = (GanaugG().to(dev), GanaugD().to(dev)) if ganaug else (DcganG().to(dev), DcganD().to(dev))
    ema = GanaugG().to(dev) if ganaug else None
    if ganaug:
        ema.load_state_dict(g.state_dict())
        g = g.to(memory_format=memory_format)
        d = d.to(memory_format=memory_format)
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    aug = diff_augment if ganaug else (lambda x: x)
    n = images.shape[0]

    def autocast():  # the forward passes and losses in bfloat16 where asked, as ganaug's
        return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def step():
        index = torch.randint(n, (BATCH,), device=dev)
        z = torch.randn(BATCH, LATENT, device=dev)
        yf = torch.randint(K, (BATCH,), device=dev)
        with torch.no_grad(), autocast():
            fake = g(z, yf)
        with autocast():
            scores = d(aug(torch.cat([images[index], fake.float()])),
                       torch.cat([labels[index], yf])).float()
            d_loss = F.relu(1 - scores[:BATCH]).mean() + F.relu(1 + scores[BATCH:]).mean()
        od.zero_grad()
        d_loss.backward()
        od.step()
        for p in d.parameters():
            p.requires_grad_(False)
        z = torch.randn(BATCH, LATENT, device=dev)
        yf = torch.randint(K, (BATCH,), device=dev)
        half = BATCH // 2
        if ganaug:
            yf[half:] = yf[:half]
        with autocast():
            fake = g(z, yf).float()
            g_loss = -d(aug(fake), yf).float().mean()
            if ganaug:
                ratio = (fake[:half] - fake[half:]).abs().mean() / (z[:half] - z[half:]).abs().mean()
                g_loss = g_loss + 1.0 / (ratio + 1e-5)
        og.zero_grad()
        g_loss.backward()
        og.step()
        for p in d.parameters():
            p.requires_grad_(True)
        if ganaug:
            with torch.no_grad():
                for a, b in zip(ema.parameters(), g.parameters()):
                    a.mul_(0.999).add_(b, alpha=0.001)
        return d_loss.detach(), g_loss.detach()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(10):  # warm-up
        step()
    sync()
    start = time.perf_counter()
    for _ in range(iterations):
        losses = step()
    sync()
    seconds = time.perf_counter() - start
    if not all(torch.isfinite(v).item() for v in losses):
        raise SystemExit("reference_cgan: the losses are not finite")
    parameters = sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters())
    return iterations * BATCH / seconds, parameters


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["dcgan", "ganaug"], default="dcgan")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--threads", type=int, default=0, help="0: all CPUs of this process")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=28, help="a multiple of 4")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--memory-format", choices=["channels_last", "contiguous"],
                        default="channels_last", help="for --model ganaug, as ganaug does")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: forward passes under torch.autocast to bfloat16, as ganaug's")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    global SIZE, CH, BATCH
    SIZE, CH, BATCH = args.image_size, args.channels, args.batch_size
    import os
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = (torch.rand(1000, CH, SIZE, SIZE) * 2 - 1).to(args.device)
    labels = (torch.arange(1000) % K).to(args.device)
    rate, (gp, dp) = train(args.model, args.iterations, images, labels,
                           getattr(torch, args.memory_format.replace("contiguous", "contiguous_format")),
                           args.precision)
    result = {"model": args.model, "images_per_s": rate, "threads": threads,
              "batch_size": BATCH, "image_size": SIZE, "channels": CH,
              "memory_format": args.memory_format, "precision": args.precision,
              "generator_parameters": gp, "discriminator_parameters": dp,
              "device": args.device, "torch": torch.__version__}
    print(json.dumps(result) if args.json else f"images_per_s {rate:.1f}")


if __name__ == "__main__":
    main()
