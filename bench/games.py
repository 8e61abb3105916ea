"""Tic-tac-toe steps per second: the torch-native batched game vs PettingZoo's via the adapter.

A step is one sub-env's move (one turn of one board), random legal moves drawn from the
game's own mask, games restarting as they end. Cells run as interleaved pairs (torch, zoo,
torch, zoo, ...) at each size; the table gives each side's median and the median of the
per-pair ratios. One torch thread, CPU unless --device (torch side only: PettingZoo is NumPy).

    .venv/bin/python bench/games.py
    .venv/bin/python bench/games.py --sizes 1 1024 --pairs 5 --seconds 0.5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from envs.pettingzoo_adapter import PettingZooGame, env_creator
from envs.tictactoe import TicTacToe


def steps_per_second(game, seconds: float, sync) -> float:
    """Sub-env moves per second over at least ``seconds`` (after 4 warm-up turns)."""
    gen = torch.Generator(device=game.device).manual_seed(0)

    def turn() -> None:
        mask = game.action_mask(game.agent_selection).float()  # (N, 9)
        game.step(torch.multinomial(mask, 1, generator=gen).squeeze(1))

    game.reset(seed=0)
    for _ in range(4):
        turn()
    sync()
    turns, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            turn()
        turns += 10
        sync()
    return turns * game.num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 1024])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else lambda: None
    make = env_creator("pettingzoo.classic.tictactoe_v3")
    print(
        "| sub-envs | torch-native steps/s | PettingZoo adapter steps/s | ratio (median of pairs) |"
    )
    print("|---:|---:|---:|---:|")
    for size in args.sizes:
        native, zoo = TicTacToe(size, args.device), PettingZooGame(make, size)
        a, b = [], []
        for _ in range(args.pairs):  # interleaved: A B A B ...
            a.append(steps_per_second(native, args.seconds, sync))
            b.append(steps_per_second(zoo, args.seconds, lambda: None))
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        print(
            f"| {size} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | {ratio:.1f}x |"
        )


if __name__ == "__main__":
    main()
