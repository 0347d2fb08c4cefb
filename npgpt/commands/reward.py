"""``npgpt reward``: train a reward model on preference pairs (Bradley-Terry loss)."""

from ..chat.reward import RewardConfig, train_reward
from ._chat_stage import add_stage_parser


def add_parser(sub):
    add_stage_parser(
        sub,
        "reward",
        "train a reward model on preference pairs and report its held-out pairwise accuracy",
        "A GPT trunk (from the SFT model) and a scalar head, trained with -log sigmoid(r_chosen - r_rejected).",
        RewardConfig,
        train_reward,
    )
