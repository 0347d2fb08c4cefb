"""From GPT to ChatGPT: the chat template, supervised fine-tuning, a reward model, RL with a KL
penalty, and DPO, each one small file (InstructGPT's recipe, Ouyang et al., 2022; DPO, 2023).

    template.py   conversation -> token ids and the loss mask (True on the assistant's reply)
    data.py       JSONL conversations and preference pairs, checked line by line; padding
    model.py      loading, adding the chat tokens to a base model, saving; the reward model
    sft.py        supervised fine-tuning: cross-entropy on the replies only
    reward.py     the reward model, trained with the Bradley-Terry loss
    rl.py         RLOO: sampling, scoring (reward model or checker), per-token KL penalty, PPO's clip
    dpo.py        the preference loss without a reward model or sampling
    prefs.py      on-policy abstention pairs: correct > "I don't know." > wrong, from the model's replies
    evaluate.py   batched answers that stop at <|end|>, graded by tasks.py; pass@k
    tasks.py      the shipped questions, how an answer is checked, "I don't know.", the checker's reward
    results.py    the README's table, rendered from docs/chat_results.json
    chat_loop.py  the `npgpt chat` conversation: the window, the streaming, the errors

The losses themselves are ops with hand-written backwards: npgpt/ops/chat_losses.py.
"""

from .template import ASSISTANT, CHAT_TOKENS, END, SYSTEM, USER, ChatTemplateError, render, render_text

__all__ = ["ASSISTANT", "CHAT_TOKENS", "END", "SYSTEM", "USER", "ChatTemplateError", "render", "render_text"]
