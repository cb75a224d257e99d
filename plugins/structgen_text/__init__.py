"""structgen's text plugin: token sequences and the ``text_file`` data set of one example per line."""

from __future__ import annotations

from structgen import hookimpl
from structgen.plugins import Register

from .domain import SequenceParams, build_sequence_domain
from .text_file import TextFileParams, build_text_file


@hookimpl
def register_domains(register: Register) -> None:
    register(
        "sequences",
        build_sequence_domain,
        params=SequenceParams,
        description="Token sequences of fixed length over a character or word vocabulary.",
    )


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        "text_file",
        build_text_file,
        params=TextFileParams,
        description="A user's UTF-8 text file, one example per line.",
    )
