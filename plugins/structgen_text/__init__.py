"""structgen's text plugin: token sequences, language models, text GANs, the linear-chain CRF, text data and metrics."""

from __future__ import annotations

from structgen import hookimpl
from structgen.config import ComponentParams
from structgen.plugins import Register

from .accuracy import build_char_accuracy, build_name_accuracy
from .cnn_text import CNNTextParams, build_cnn_text
from .crf import LinearChainCRFParams, build_linear_chain_crf
from .crf_strategy import CRFParams, CRFStrategy
from .domain import SequenceParams, build_sequence_domain
from .gru import GRUParams, build_gru
from .gumbel_gan import GumbelGANParams, GumbelGANStrategy
from .mle import MLEParams, MLEStrategy
from .name_typos import NameTyposParams, build_name_typos
from .names import NamesParams, build_names
from .oracle import OracleParams, build_oracle
from .oracle_metrics import build_oracle_floor, build_oracle_nll
from .seqgan import SeqGANParams, SeqGANStrategy
from .tasks import names_task, oracle_task
from .text_file import TextFileParams, build_text_file
from .text_metrics import (
    BLEUParams,
    SelfBLEUParams,
    build_bleu,
    build_novelty,
    build_self_bleu,
    build_uniqueness,
)
from .transformer import TransformerParams, build_transformer


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
    register(
        "names",
        build_names,
        params=NamesParams,
        description="US census first names (optionally last names) of the names package, lower-cased, characters.",
    )
    register(
        "name_typos",
        build_name_typos,
        params=NameTyposParams,
        description="Census names (x) paired with copies that have random letter substitutions (condition).",
    )
    register(
        "oracle",
        build_oracle,
        params=OracleParams,
        description="SeqGAN's synthetic data: 20-token sequences sampled from a random N(0, 1) LSTM oracle.",
    )


@hookimpl
def register_generators(register: Register) -> None:
    register(
        "gru",
        build_gru,
        params=GRUParams,
        description="GRU language model: exact likelihood, sampling and Gumbel-softmax relaxed rows.",
    )
    register(
        "transformer",
        build_transformer,
        params=TransformerParams,
        description="Causal transformer language model: exact likelihood, sampling and relaxed rows.",
    )


@hookimpl
def register_strategies(register: Register) -> None:
    register(
        "mle",
        MLEStrategy,
        params=MLEParams,
        description="Maximum likelihood with teacher forcing for autoregressive generators.",
    )
    register(
        "seqgan",
        SeqGANStrategy,
        params=SeqGANParams,
        description="SeqGAN: MLE and discriminator pre-training, then REINFORCE with Monte-Carlo rollout rewards.",
    )
    register(
        "gumbel_gan",
        GumbelGANStrategy,
        params=GumbelGANParams,
        description="MLE and discriminator pre-training, then a GAN through straight-through Gumbel-softmax rows.",
    )
    register(
        "crf",
        CRFStrategy,
        params=CRFParams,
        description="Trains a linear_chain_crf by log-likelihood, perceptron or hinge loss; samples by Viterbi.",
    )


@hookimpl
def register_discriminators(register: Register) -> None:
    register(
        "cnn_text",
        build_cnn_text,
        params=CNNTextParams,
        description="Convolutional text classifier (Kim 2014, SeqGAN's discriminator) on token ids or one-hots.",
    )
    register(
        "linear_chain_crf",
        build_linear_chain_crf,
        params=LinearChainCRFParams,
        description="Linear-chain CRF over token ids; layout-constrained transitions, unary table or GRU encoder.",
    )


@hookimpl
def register_metrics(register: Register) -> None:
    register(
        "char_accuracy",
        build_char_accuracy,
        params=ComponentParams,
        description="Paired rows: fraction of the real characters that the generated row matches.",
    )
    register(
        "name_accuracy",
        build_name_accuracy,
        params=ComponentParams,
        description="Paired rows: fraction of generated rows equal to their real row.",
    )
    register(
        "oracle_nll",
        build_oracle_nll,
        params=ComponentParams,
        description="Oracle data: the oracle's NLL per token of the generated rows (SeqGAN's NLL-oracle).",
    )
    register(
        "oracle_floor",
        build_oracle_floor,
        params=ComponentParams,
        description="Oracle data: the oracle's NLL per token of its own samples, the figure of a perfect generator.",
    )
    register(
        "bleu",
        build_bleu,
        params=BLEUParams,
        description="Mean sentence BLEU-N of generated rows against all test rows (bleu2 to bleu5).",
    )
    register(
        "self_bleu",
        build_self_bleu,
        params=SelfBLEUParams,
        description="Mean sentence BLEU-N of each generated row against the other generated rows (high: repetitive).",
    )
    register(
        "uniqueness",
        build_uniqueness,
        params=ComponentParams,
        description="Distinct generated rows divided by generated rows.",
    )
    register(
        "novelty",
        build_novelty,
        params=ComponentParams,
        description="Fraction of generated rows that are not in the training split.",
    )


@hookimpl
def register_tasks(register: Register) -> None:
    register(
        "oracle",
        oracle_task,
        params=ComponentParams,
        description="mle, seqgan and gumbel_gan on SeqGAN's oracle data, plus the real floor.",
    )
    register(
        "names",
        names_task,
        params=ComponentParams,
        description="mle, seqgan, gumbel_gan and discriminator-only search on census names, plus the real floor.",
    )
