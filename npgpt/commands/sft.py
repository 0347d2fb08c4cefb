"""``npgpt sft``: supervised fine-tuning on conversations (the loss on the assistant's replies only)."""

from ..chat.sft import SFTConfig, sft
from ._chat_stage import add_stage_parser


def add_parser(sub):
    add_stage_parser(
        sub,
        "sft",
        "fine-tune a model on chat conversations (default: the shipped Shakespeare questions)",
        "Supervised fine-tuning: cross-entropy on the assistant's tokens only. A base model gets the chat tokens first.",
        SFTConfig,
        sft,
    )
