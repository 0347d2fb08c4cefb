"""``npgpt dpo``: Direct Preference Optimization on preference pairs."""

from ..chat.dpo import DPOConfig, dpo
from ._chat_stage import add_stage_parser


def add_parser(sub):
    add_stage_parser(
        sub,
        "dpo",
        "tune a chat model on preference pairs with the DPO loss (no reward model, no sampling)",
        "DPO: -log sigmoid(beta ((log pi - log pi_ref)(chosen) - (log pi - log pi_ref)(rejected))).",
        DPOConfig,
        dpo,
    )
