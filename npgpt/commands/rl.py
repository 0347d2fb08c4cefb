"""``npgpt rl``: reinforcement learning against the reward model with a per-token KL penalty."""

from ..chat.rl import RLConfig, rl
from ._chat_stage import add_stage_parser


def add_parser(sub):
    add_stage_parser(
        sub,
        "rl",
        "RL from the reward model (PPO clip, per-token KL to the SFT model); logs reward, KL, accuracy",
        "Sample replies, score them with the reward model, update with PPO's clipped objective.",
        RLConfig,
        rl,
    )
