"""A token vocabulary with padding, begin, end and unknown tokens, at character or word level."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Literal

Level = Literal["character", "word"]
LEVELS: tuple[str, ...] = ("character", "word")

PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"
UNK = "<unk>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(len(SPECIAL_TOKENS))
FIRST_ORDINARY_ID = len(SPECIAL_TOKENS)


class Vocabulary:
    """Maps tokens to ids and back.

    Ids 0 to 3 are the special tokens ``<pad>``, ``<bos>``, ``<eos>`` and
    ``<unk>``. The ordinary tokens follow from id 4 on, ordered by frequency in
    the corpus (most frequent first), ties broken by Unicode code-point order
    of the token, so the same corpus always gives the same ids.

    At ``character`` level every character is a token. At ``word`` level the
    text is split on runs of whitespace, so :meth:`decode` joins words with
    one space and does not restore the original spacing.

    NOTE: text that spells a special token, such as the word ``<eos>``, never
    gets that token's id. It is not an ordinary token either, so it encodes
    to ``<unk>``.
    """

    def __init__(self, tokens: Sequence[str], level: Level) -> None:
        """Create a vocabulary from its ordinary tokens, in id order from id 4 on."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {list(LEVELS)}, got {level!r}")
        specials = sorted(set(tokens) & set(SPECIAL_TOKENS))
        if specials:
            raise ValueError(f"ordinary tokens must not include the special tokens {specials}; they are implied")
        self.level: Level = level
        self.tokens: list[str] = [*SPECIAL_TOKENS, *tokens]
        # Only ordinary tokens are looked up, so text never encodes to a special id.
        self.ordinary_ids: dict[str, int] = {token: index for index, token in enumerate(tokens, FIRST_ORDINARY_ID)}
        if len(self.ordinary_ids) != len(tokens):
            repeated = sorted(token for token, count in Counter(tokens).items() if count > 1)
            raise ValueError(f"tokens must be unique; repeated: {repeated[:5]}")

    @classmethod
    def build(cls, corpus: Iterable[str], level: Level) -> Vocabulary:
        """Collect the tokens of ``corpus``, most frequent first (see the class docstring)."""
        counts: Counter[str] = Counter()
        for text in corpus:
            counts.update(tokenize(text, level))
        for special in SPECIAL_TOKENS:
            counts.pop(special, None)
        ordered = sorted(counts, key=lambda token: (-counts[token], token))
        return cls(ordered, level)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.level == other.level and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocabulary(level={self.level!r}, size={len(self)})"

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into tokens at this vocabulary's level."""
        return tokenize(text, self.level)

    def encode(self, text: str) -> list[int]:
        """Return the ids of the tokens of ``text``, with ``<unk>`` for unknown tokens.

        No ``<bos>`` or ``<eos>`` is added.
        """
        return [self.ordinary_ids.get(token, UNK_ID) for token in self.tokenize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Return the text of ``ids``: stop at the first ``<eos>``, skip ``<pad>`` and ``<bos>``.

        ``<unk>`` is written as the string ``<unk>``. Raises ``ValueError`` for
        an id outside ``[0, len(self))``.
        """
        pieces = []
        for token_id in ids:
            token_id = int(token_id)
            if not 0 <= token_id < len(self.tokens):
                raise ValueError(f"token id {token_id} is outside the vocabulary of {len(self.tokens)} tokens")
            if token_id == EOS_ID:
                break
            if token_id in (PAD_ID, BOS_ID):
                continue
            pieces.append(self.tokens[token_id])
        separator = "" if self.level == "character" else " "
        return separator.join(pieces)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the level and the ordinary tokens in id order (specials are implied)."""
        return {"level": self.level, "tokens": self.tokens[FIRST_ORDINARY_ID:]}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Vocabulary:
        """Rebuild a vocabulary from :meth:`to_dict` output, raising ``ValueError`` when it is malformed."""
        if not isinstance(values, dict) or set(values) != {"level", "tokens"}:
            raise ValueError("a vocabulary must be a mapping with exactly the keys 'level' and 'tokens'")
        tokens = values["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(token, str) and token for token in tokens):
            raise ValueError("vocabulary 'tokens' must be a list of non-empty strings")
        return cls(tokens, values["level"])


def tokenize(text: str, level: Level) -> list[str]:
    """Split ``text`` into characters or into whitespace-separated words."""
    if level == "character":
        return list(text)
    if level == "word":
        return text.split()
    raise ValueError(f"level must be one of {list(LEVELS)}, got {level!r}")
