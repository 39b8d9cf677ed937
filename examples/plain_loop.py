"""A plain PyTorch training loop, tracked by tuirecipe (bring your own loop).

    python examples/plain_loop.py --runs-dir runs --steps 300
    tuirecipe runs                     # the run is listed like any other
    tuirecipe                          # the console: Runs pane, Enter follows it live

The model is a small bag-of-words classifier on made-up token data (each class owns a
band of token ids), so the example needs nothing but torch. Only four lines concern
tuirecipe: ``tuirecipe.track.start``, two ``run.log`` calls and ``run.note``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch import nn

import tuirecipe.track

VOCAB, LENGTH, CLASSES = 200, 12, 3


def make_data(rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``[rows, LENGTH]`` and labels: 60 % of a row's tokens come from its
    class's band of ids, the rest are noise shared by every class."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (rows,), generator=gen)
    band = (VOCAB - 1) // (CLASSES + 1)
    signal = (
        1 + band * (labels[:, None] + 1) + torch.randint(0, band, (rows, LENGTH), generator=gen)
    )
    noise = 1 + torch.randint(0, band, (rows, LENGTH), generator=gen)
    keep = torch.rand(rows, LENGTH, generator=gen) < 0.6
    return torch.where(keep, signal, noise), labels


class BagOfWords(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(VOCAB, hidden, mode="mean")
        self.out = nn.Linear(hidden, CLASSES)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.embed(ids)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--name", default="plain-loop")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--motivation", default="a plain loop, tracked")
    parser.add_argument(
        "--pace", type=float, default=0.0, help="seconds to wait after each step (a demo)"
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # a model this small only loses time to thread hand-offs
    torch.manual_seed(args.seed)
    train_x, train_y = make_data(2000, args.seed)
    dev_x, dev_y = make_data(500, args.seed + 1)
    model = BagOfWords(args.hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    config = {
        "seed": args.seed,
        "model": {"name": "bag-of-words", "hidden_dim": args.hidden},
        "train": {
            "lr": args.lr,
            "batch_size": args.batch_size,
            "max_steps": args.steps,
            "eval_every": args.eval_every,
        },
    }
    with tuirecipe.track.start(
        name=args.name,
        config=config,
        motivation=args.motivation,
        runs_dir=args.runs_dir,
        total_steps=args.steps,
    ) as run:
        print(run.id, flush=True)
        per_epoch = len(train_x) // args.batch_size
        for step in range(1, args.steps + 1):
            model.train()
            index = torch.randint(0, len(train_x), (args.batch_size,))
            logits = model(train_x[index])
            loss = loss_fn(logits, train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == train_y[index]).float().mean()
            run.log(
                step,
                train_loss=loss.item(),
                train_acc=acc.item(),
                lr=args.lr,
                epoch=step / per_epoch,
            )
            if step % args.eval_every == 0 or step == args.steps:
                model.eval()
                with torch.no_grad():
                    dev_logits = model(dev_x)
                run.log(
                    step,
                    dev_loss=loss_fn(dev_logits, dev_y).item(),
                    dev_acc=(dev_logits.argmax(1) == dev_y).float().mean().item(),
                )
            if args.pace:
                time.sleep(args.pace)  # a demo's pace: slow enough to watch the curves
        run.note(f"plain loop: {args.steps} steps at lr {args.lr:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
