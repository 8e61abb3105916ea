"""Self-play on torch-native tic-tac-toe: one policy in both seats against its past selves.

Each update plays one game on each of ``--boards`` boards from an empty board: the learner
takes X on half the boards and O on the other half, its opponent a past self drawn from the
pool (a snapshot every ``--snapshot`` updates). The policy gradient is PPO's clipped
objective on one batch of whole games (return = the game's outcome, baseline its mean),
illegal squares masked out of the logits. Prints non-loss rates against random and scripted
opponents and an Elo rating of the newest snapshot against the pool as it climbs.

    .venv/bin/python scripts/self_play.py --updates 300
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn as nn

from agents.opponents import RandomPlayer, ScriptedPlayer, play_games
from envs.tictactoe import TicTacToe


class MaskedPolicy(nn.Module):
    """An MLP over the board's two planes; illegal squares get -inf logits."""

    def __init__(self, num_hiddens: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(18, num_hiddens), nn.Tanh(), nn.Linear(num_hiddens, 9)
        )

    def dist(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.distributions.Categorical:
        logits = self.net(obs).masked_fill(~mask, -1e9)  # (N, 9)
        return torch.distributions.Categorical(logits=logits)


class PolicyPlayer:
    """A seat played by a policy, sampling (or greedy) among the game's legal squares."""

    def __init__(self, policy, game, player, greedy=False, seed=0):
        self.policy, self.game, self.player, self.greedy = policy, game, player, greedy
        self.gen = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def act(self, obs):
        d = self.policy.dist(obs, self.game.action_mask(self.player))
        return (
            d.probs.argmax(1)
            if self.greedy
            else torch.multinomial(d.probs, 1, generator=self.gen).squeeze(1)
        )


def play_batch(game, learner, opponent, gen):
    """One game per board from an empty board: the learner's moves and each board's outcome."""
    game.reset()
    n = game.num_envs
    learner_seat = torch.arange(n) % 2  # (N,): 0 = X on even boards, 1 = O on odd ones
    in_game = torch.ones(n, dtype=torch.bool)  # (N,): still in its first game
    outcome = torch.zeros(n)
    moves = []  # (obs, mask, action, logprob, rows) of the learner's turns
    for _ in range(10):  # 5 rounds: every game from an empty board ends within 9 moves
        seat = game.possible_agents.index(game.agent_selection)
        obs, mask = game.observe(game.agent_selection), game.action_mask(game.agent_selection)
        with torch.no_grad():
            mine = learner.dist(obs, mask)
            theirs = opponent.dist(obs, mask)
            probs = torch.where((learner_seat == seat)[:, None], mine.probs, theirs.probs)
            action = torch.multinomial(probs, 1, generator=gen).squeeze(1)  # (N,)
        rows = (learner_seat == seat) & in_game & ~game.over
        moves.append((obs, mask, action, mine.log_prob(action), rows))
        game.step(action)
        if game.rewards:
            reward = torch.stack([game.rewards[p] for p in game.possible_agents])  # (2, N)
            ended = game.terminated & in_game
            outcome[ended] = reward.gather(0, learner_seat[None]).squeeze(0)[ended]
            in_game &= ~game.terminated
    return moves, outcome


def ppo_update(policy, optimizer, moves, outcome, num_epochs=4, clip_coef=0.2, ent_coef=0.01):
    obs = torch.cat([m[0][m[4]] for m in moves])
    mask = torch.cat([m[1][m[4]] for m in moves])
    action = torch.cat([m[2][m[4]] for m in moves])
    old_logprob = torch.cat([m[3][m[4]] for m in moves])
    ret = torch.cat([outcome[m[4]] for m in moves])
    adv = (ret - ret.mean()) / (ret.std() + 1e-8)
    for _ in range(num_epochs):
        d = policy.dist(obs, mask)
        ratio = (d.log_prob(action) - old_logprob).exp()
        loss = -torch.min(ratio * adv, ratio.clamp(1 - clip_coef, 1 + clip_coef) * adv).mean()
        loss = loss - ent_coef * d.entropy().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def non_loss(policy, opponent_cls, num_games=1000):
    """Mean non-loss rate of the (sampling) policy over both seats against ``opponent_cls``."""
    game, rates = TicTacToe(250), []
    for seat, other in (("player_1", "player_2"), ("player_2", "player_1")):
        players = {
            seat: PolicyPlayer(policy, game, seat, greedy=False),
            other: opponent_cls(game, other),
        }
        rates.append(1 - play_games(game, players, num_games)[f"{seat}_loss"])
    return sum(rates) / 2


def elo_vs_pool(policy, pool, rating, k=32.0):
    """Update the Elo rating of ``policy`` from games against each pool member (rated 0 each)."""
    game = TicTacToe(200)
    for past in pool:
        players = {
            "player_1": PolicyPlayer(policy, game, "player_1"),
            "player_2": PolicyPlayer(past, game, "player_2", seed=1),
        }
        r = play_games(game, players, 200)
        score = r["player_1_win"] + 0.5 * r["player_1_draw"]
        rating += k * (score - 1 / (1 + 10 ** ((0 - rating) / 400)))
    return rating


def log_eval(writer, policy, rating, step):
    """eval/* in TensorBoard: rates as X vs random (win rate = eval/score), the rating, a game."""
    game = TicTacToe(250)
    players = {
        "player_1": PolicyPlayer(policy, game, "player_1"),
        "player_2": RandomPlayer(game, "player_2"),
    }
    r = play_games(game, players, 1000)
    for name, value in (
        ("score", r["player_1_win"]),
        ("draw", r["player_1_draw"]),
        ("loss", r["player_1_loss"]),
        ("elo", rating),
    ):
        writer.add_scalar(f"eval/{name}", value, step)
    writer.add_text("eval/game", render_game(policy), step)


def render_game(policy):
    """One game, the policy (X, greedy) against a random O, as boards after each move."""
    game = TicTacToe(1)
    players = {
        "player_1": PolicyPlayer(policy, game, "player_1", greedy=True),
        "player_2": RandomPlayer(game, "player_2"),
    }
    game.reset()
    boards = []
    while len(boards) < 9:
        player = game.agent_selection
        game.step(players[player].act(game.observe(player)))
        boards.append(game.render_text(0))
        if game.over.any() or (game.rewards and game.terminated.any()):
            break  # X ended it (O would sit out) or the round ended it (the board restarts)
    return "\n\n".join("    " + b.replace("\n", "\n    ") for b in boards)  # markdown code


def train(updates=300, boards=256, snapshot=25, lr=3e-3, seed=0, log=print, writer=None):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    policy = MaskedPolicy()
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    pool, game, rating = [copy.deepcopy(policy)], TicTacToe(boards), 0.0
    for update in range(1, updates + 1):
        opponent = pool[int(torch.randint(len(pool), (), generator=gen))]
        moves, outcome = play_batch(game, policy, opponent, gen)
        ppo_update(policy, optimizer, moves, outcome)
        if update % snapshot == 0:
            rating = elo_vs_pool(policy, pool[-4:], rating)
            pool.append(copy.deepcopy(policy))
            if writer is not None:
                log_eval(writer, policy, rating, step=update * boards)
            log(
                f"update {update}: non-loss vs random {non_loss(policy, RandomPlayer):.3f}, "
                f"vs scripted {non_loss(policy, ScriptedPlayer):.3f}, Elo {rating:.0f}"
            )
    return policy, pool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--boards", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default=None, help="TensorBoard run directory (none: print)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    writer = None
    if args.logdir:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.logdir)
    try:
        train(args.updates, args.boards, seed=args.seed, writer=writer)
    finally:
        if writer is not None:
            writer.close()


if __name__ == "__main__":
    main()
