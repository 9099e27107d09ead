"""A byte-pair tokenizer trained on a corpus, and a corpus as one token stream with its latent variables per token.

`Tokenizer.encode_corpus` carries the corpus's character-level label spans (`sae_kit.lm.corpus`) to token positions, so a
feature of a model trained on the text can be checked against the variables that made it (notebook 05).

Dimension names: `tok` token positions in a stream, `label` latent variables, `batch`, `pos`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from sae_kit._util import check_positive_int

if TYPE_CHECKING:
    from sae_kit.lm.corpus import Corpus

__all__ = ["Tokenizer", "TokenizedCorpus", "train_tokenizer"]


@dataclass
class TokenizedCorpus:
    """A corpus as one token stream, with the latent variables at each token."""

    tokens: torch.Tensor  # [tok] int64 token ids
    labels: torch.Tensor  # [tok, label] bool: the label holds on at least one character of the token
    label_names: tuple[str, ...]

    def windows(self, n_ctx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The stream cut into non-overlapping windows: tokens [batch, pos] and labels [batch, pos, label]."""
        check_positive_int("n_ctx", n_ctx)
        n = self.tokens.shape[0] // n_ctx
        if n == 0:
            raise ValueError(f"the corpus has {self.tokens.shape[0]} tokens, fewer than one window of n_ctx={n_ctx}")
        return (self.tokens[: n * n_ctx].view(n, n_ctx),
                self.labels[: n * n_ctx].view(n, n_ctx, -1))


class Tokenizer:
    """A byte-level BPE tokenizer (the `tokenizers` library) with the kit's checks around it."""

    def __init__(self, hf_tokenizer) -> None:
        self.hf = hf_tokenizer

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text).ids

    def decode(self, ids) -> str:
        return self.hf.decode([int(i) for i in ids])

    def token_strings(self, ids) -> list[str]:
        """Each id as the text it stands for (spaces kept), for dashboards."""
        return [self.hf.decode([int(i)]) for i in ids]

    def encode_corpus(self, corpus: Corpus, chunk_chars: int = 200_000) -> TokenizedCorpus:
        """Tokenise the whole text and carry each character-span label to the tokens it overlaps."""
        ids, starts, ends = [], [], []
        text = corpus.text
        pos = 0
        while pos < len(text):  # chunks end at a blank line (or a space) so no token is cut in two
            stop = min(len(text), pos + chunk_chars)
            if stop < len(text):
                cut = text.rfind("\n\n", pos, stop)
                stop = cut if cut > pos else max(pos + 1, text.rfind(" ", pos, stop))
            enc = self.hf.encode(text[pos:stop])
            ids += enc.ids
            starts += [pos + s for s, _ in enc.offsets]
            ends += [pos + e for _, e in enc.offsets]
            pos = stop
        tokens = torch.tensor(ids, dtype=torch.long)
        labels = torch.zeros(len(ids), len(corpus.labels), dtype=torch.bool)
        if corpus.spans:  # a difference array: +1 at the first token a span overlaps, −1 after its last
            span = torch.tensor(corpus.spans, dtype=torch.long)  # [n_spans, 3] start, end, label
            lo = torch.searchsorted(torch.tensor(ends), span[:, 0].contiguous(), right=True)  # first token with end > start
            hi = torch.searchsorted(torch.tensor(starts), span[:, 1].contiguous(), right=False)  # first token with start ≥ end
            diff = torch.zeros(len(ids) + 1, len(corpus.labels), dtype=torch.int32)
            one = torch.ones(len(span), dtype=torch.int32)
            diff.index_put_((lo, span[:, 2]), one, accumulate=True)
            diff.index_put_((hi, span[:, 2]), -one, accumulate=True)
            labels = diff.cumsum(0)[:-1] > 0
        return TokenizedCorpus(tokens=tokens, labels=labels, label_names=tuple(corpus.labels))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.hf.save(str(path))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        path = Path(path)
        if not path.exists():
            raise ValueError(f"{path}: no tokenizer file (make one with train_tokenizer(...).save(path))")
        return cls(HFTokenizer.from_file(str(path)))


def train_tokenizer(corpus: Corpus, vocab_size: int = 1024, max_chars: int = 2_000_000) -> Tokenizer:
    """Train a byte-level BPE vocabulary of `vocab_size` tokens on (the first `max_chars` characters of) the corpus."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    if vocab_size < 257:
        raise ValueError(f"vocab_size must be ≥ 257 (256 bytes + at least one merge), got {vocab_size}")
    tok = HFTokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    text = corpus.text[:max_chars]
    tok.train_from_iterator((text[i:i + 10_000] for i in range(0, len(text), 10_000)), trainer=trainer)
    return Tokenizer(tok)
