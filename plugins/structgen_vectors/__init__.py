"""structgen's vectors plugin: points in R^d, MLP networks, the 2-D mixtures and user point files.

It registers its components through the public hooks, as any third-party
plugin would, and is the worked example for plugin authors.
"""

from __future__ import annotations

from structgen import hookimpl
from structgen.config import ComponentParams
from structgen.plugins import Register

from .domain import VectorParams, build_vector_domain
from .mixtures import MixtureMetricParams, MixtureParams, build_grid, build_mixture_metric, build_ring
from .networks import MLPDiscriminatorParams, MLPGeneratorParams, build_mlp_discriminator, build_mlp_generator
from .points import PointsParams, build_points
from .tasks import mixture_task


@hookimpl
def register_domains(register: Register) -> None:
    register("vectors", build_vector_domain, params=VectorParams, description="Points in R^d inside a box.")


@hookimpl
def register_generators(register: Register) -> None:
    register("mlp", build_mlp_generator, params=MLPGeneratorParams, description="MLP from z to a flattened object.")


@hookimpl
def register_discriminators(register: Register) -> None:
    register(
        "mlp",
        build_mlp_discriminator,
        params=MLPDiscriminatorParams,
        description="MLP from a flattened object to a score.",
    )


@hookimpl
def register_datasets(register: Register) -> None:
    register("ring", build_ring, params=MixtureParams, description="8 Gaussians on the unit circle, std 0.01.")
    register("grid", build_grid, params=MixtureParams, description="25 Gaussians at {-4,-2,0,2,4}^2, std 0.05.")
    register("points", build_points, params=PointsParams, description="A user's points from a .npy or .csv file.")


@hookimpl
def register_metrics(register: Register) -> None:
    register(
        "mixture",
        build_mixture_metric,
        params=MixtureMetricParams,
        description="modes_covered, high_quality_fraction, off_mode_fraction, reverse_kl.",
    )


@hookimpl
def register_tasks(register: Register) -> None:
    register("mixture", mixture_task, params=ComponentParams, description="gan, vae and energy on ring and grid.")
