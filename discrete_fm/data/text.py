"""Character-level text corpora (tinyshakespeare and its text8-style variant).

The discrete (CTMC) text benchmark needs the corpus, a fixed
character vocabulary and the contiguous 90/5/5 train/val/test split of the data README
(train identical to nanoGPT's shakespeare_char 90 %). Files are found and checked through
:func:`manifold_fm.data.files.require_file`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch
from torch import Tensor

from manifold_fm.data.files import DataFile, require_file

__all__ = ["TEXT_FILES", "CharCorpus", "load_text", "text8_normalise"]

_CHAR_RNN = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/"
    "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt"
)
_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def text8_normalise(text: str) -> str:
    """text8-style normalisation: lowercase, each digit spelled out as a word between spaces, every
    run of characters outside a-z replaced by one space (27 symbols: a-z and space)."""
    text = text.lower()
    for i, word in enumerate(_DIGITS):
        text = text.replace(str(i), f" {word} ")
    return re.sub(r"[^a-z]+", " ", text)


#: name -> (file, [train_end, val_end]) with the split boundaries of the data README
TEXT_FILES: dict[str, tuple[DataFile, tuple[int, int]]] = {
    "tinyshakespeare": (
        DataFile(
            "text/tinyshakespeare.txt",
            _CHAR_RNN,
            _SHAKESPEARE_SHA256,
            "karpathy/char-rnn data/tinyshakespeare/input.txt",
        ),
        (1003854, 1059624),
    ),
    "tinyshakespeare_text8style": (
        DataFile(
            "text/tinyshakespeare_text8style.txt",
            _CHAR_RNN,
            "53fd56c9ce20e35ef5fff4620af9630aee69b989a7fe9bf8790c8e43a93ba96c",
            "derived from tinyshakespeare.txt by text8_normalise: lowercase, digits "
            "spelled out, re.sub('[^a-z]+', ' ', s) (see shared/data/text/README.md)",
            source_sha256=_SHAKESPEARE_SHA256,
        ),
        (953768, 1006755),
    ),
}


@dataclass
class CharCorpus:
    """A corpus as token ids over a sorted character vocabulary.

    Attributes:
        name: corpus name.
        vocab: the sorted distinct characters of the whole file (id = index).
        train, val, test: long 1-D tensors of ids (contiguous splits).
    """

    name: str
    vocab: str
    train: Tensor
    val: Tensor
    test: Tensor

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> Tensor:
        """ids of ``text`` (ValueError naming the first unknown character)."""
        index = {c: i for i, c in enumerate(self.vocab)}
        try:
            return torch.tensor([index[c] for c in text], dtype=torch.long)
        except KeyError as err:
            raise ValueError(
                f"{self.name}: character {err.args[0]!r} is not in the vocabulary"
            ) from err

    def decode(self, ids: Tensor) -> str:
        """Text of a 1-D id tensor."""
        return "".join(self.vocab[int(i)] for i in ids.tolist())

    def split(self, name: str) -> Tensor:
        """The ``"train"``, ``"val"`` or ``"test"`` ids."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"{self.name}: split must be train/val/test, got {name!r}")
        return getattr(self, name)

    def chunks(self, split: str, length: int) -> Tensor:
        """Non-overlapping chunks of ``length`` ids from a split, shape (n, length)."""
        ids = self.split(split)
        n = ids.numel() // length
        if n == 0:
            raise ValueError(f"{self.name}/{split}: shorter than one chunk of {length}")
        return ids[: n * length].view(n, length)


def load_text(name: str = "tinyshakespeare", root: str | os.PathLike | None = None) -> CharCorpus:
    """Load a corpus of :data:`TEXT_FILES` from the data root (arg or ``$MFM_DATA``)."""
    if name not in TEXT_FILES:
        raise ValueError(f"unknown text corpus {name!r}; choose from {sorted(TEXT_FILES)}")
    spec, (a, b) = TEXT_FILES[name]
    text = require_file(spec, root).read_text(encoding="ascii")
    vocab = "".join(sorted(set(text)))
    lut = torch.full((128,), -1, dtype=torch.long)
    lut[torch.tensor([ord(c) for c in vocab])] = torch.arange(len(vocab))
    ids = lut[torch.frombuffer(bytearray(text.encode("ascii")), dtype=torch.uint8).long()]
    return CharCorpus(name, vocab, ids[:a].clone(), ids[a:b].clone(), ids[b:].clone())
