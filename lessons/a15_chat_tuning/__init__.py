"""Assignment 15: from GPT to ChatGPT: the SFT loss mask and the DPO loss."""
