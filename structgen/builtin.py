"""structgen's own plugin: strategies, inference algorithms, losses and generic metrics.

It uses the same hooks as any third-party plugin; domain-specific
components (networks, data sets, their metrics) live in the plugins under
``plugins/``.
"""

from __future__ import annotations

from typing import Any

from .config import ComponentParams
from .context import BuildContext
from .inference.amortized import build_amortized
from .inference.annealing import SimulatedAnnealingParams, build_simulated_annealing
from .inference.beam import BeamParams, build_beam
from .inference.block_gibbs import BlockGibbsParams, build_block_gibbs
from .inference.exhaustive import ExhaustiveParams, build_exhaustive
from .inference.gibbs import GibbsParams, build_gibbs
from .inference.gradient import GradientAscentParams, LangevinParams, build_gradient_ascent, build_langevin
from .inference.metropolis import MetropolisHastingsParams, build_metropolis_hastings
from .inference.viterbi import ViterbiParams, build_viterbi
from .losses import (
    HingeLoss,
    LeastSquaresLoss,
    MinimaxLoss,
    NonSaturatingLoss,
    WassersteinGPParams,
    build_wasserstein_gp,
)
from .metrics.frechet import FrechetParams, build_frechet
from .metrics.inception import InceptionScoreParams, build_inception_score
from .metrics.manifold import (
    DensityCoverageParams,
    PrecisionRecallParams,
    build_density_coverage,
    build_precision_recall,
)
from .metrics.mmd import MMDParams, build_mmd
from .plugins import Register, hookimpl
from .strategies.autoencoders import AutoencoderParams, AutoencoderStrategy, VAEParams, VAEStrategy
from .strategies.codes import CodesParams, CodesStrategy
from .strategies.energy import EnergyParams, EnergyStrategy
from .strategies.gan import GANParams, GANStrategy


@hookimpl
def register_strategies(register: Register) -> None:
    register("gan", GANStrategy, params=GANParams, description="Alternating generator and discriminator updates.")
    register("vae", VAEStrategy, params=VAEParams, description="Variational autoencoder; the generator is its decoder.")
    register(
        "autoencoder",
        AutoencoderStrategy,
        params=AutoencoderParams,
        description="Deterministic autoencoder; samples by decoding N(0, I) codes.",
    )
    register(
        "energy",
        EnergyStrategy,
        params=EnergyParams,
        description="Discriminator only; negatives and samples come from an inference algorithm.",
    )
    register(
        "codes",
        CodesStrategy,
        params=CodesParams,
        description="Per-image latent codes, fixed at random or learned jointly with the generator (GLO).",
    )


@hookimpl
def register_inference(register: Register) -> None:
    register(
        "gradient_ascent",
        build_gradient_ascent,
        params=GradientAscentParams,
        description="Gradient ascent on the score from random starts.",
    )
    register("langevin", build_langevin, params=LangevinParams, description="Langevin dynamics on exp(score / T).")
    register(
        "exhaustive",
        build_exhaustive,
        params=ExhaustiveParams,
        description="Scores every candidate of a finite set: exact argmax or sampling.",
    )
    register("amortized", build_amortized, params=ComponentParams, description="Samples the strategy's generator.")
    register(
        "viterbi",
        build_viterbi,
        params=ViterbiParams,
        description="Exact argmax (Viterbi) or exact sampling (FFBS) of a scorer with linear-chain factors.",
    )
    register(
        "beam",
        build_beam,
        params=BeamParams,
        description="Beam search over the sites of discrete objects, in order.",
    )
    register(
        "gibbs",
        build_gibbs,
        params=GibbsParams,
        description="Single-site Gibbs sampling of exp(score / T) over discrete objects.",
    )
    register(
        "block_gibbs",
        build_block_gibbs,
        params=BlockGibbsParams,
        description="Alternating block sampling of a scorer with CONDITIONALS, e.g. an RBM.",
    )
    register(
        "metropolis_hastings",
        build_metropolis_hastings,
        params=MetropolisHastingsParams,
        description="Metropolis-Hastings over discrete objects, with single-site or generator proposals.",
    )
    register(
        "simulated_annealing",
        build_simulated_annealing,
        params=SimulatedAnnealingParams,
        description="Simulated annealing over discrete objects that returns the best row each chain visited.",
    )


def _loss_factory(loss_class: type) -> Any:
    def build(params: ComponentParams, context: BuildContext) -> Any:
        return loss_class()

    return build


@hookimpl
def register_losses(register: Register) -> None:
    register("minimax", _loss_factory(MinimaxLoss), params=ComponentParams, description="Original minimax GAN loss.")
    register(
        "non_saturating",
        _loss_factory(NonSaturatingLoss),
        params=ComponentParams,
        description="Minimax D loss; G maximises log D(G(z)).",
    )
    register(
        "least_squares",
        _loss_factory(LeastSquaresLoss),
        params=ComponentParams,
        description="Least-squares GAN (LSGAN): squared error of raw scores to targets 1 (real) and 0 (fake).",
    )
    register(
        "hinge",
        _loss_factory(HingeLoss),
        params=ComponentParams,
        description="Hinge loss on D's scores with margin 1; G maximises the mean score of its samples.",
    )
    register(
        "wasserstein_gp",
        build_wasserstein_gp,
        params=WassersteinGPParams,
        description="Wasserstein GAN critic loss plus lambda times the gradient penalty (WGAN-GP).",
    )


@hookimpl
def register_metrics(register: Register) -> None:
    register("mmd", build_mmd, params=MMDParams, description="Unbiased MMD^2, Gaussian kernel, median bandwidth.")
    register(
        "frechet_distance",
        build_frechet,
        params=FrechetParams,
        description="Fréchet distance between features of real and generated objects.",
    )
    register(
        "precision_recall",
        build_precision_recall,
        params=PrecisionRecallParams,
        description="Improved precision and recall (k-NN balls) in a feature extractor's space.",
    )
    register(
        "density_coverage",
        build_density_coverage,
        params=DensityCoverageParams,
        description="Density and coverage of generated features in k-NN balls around real features.",
    )
    register(
        "inception_score",
        build_inception_score,
        params=InceptionScoreParams,
        description="Inception score, exp(E KL(p(y|x) || p(y))), from a classifier's class probabilities.",
    )
