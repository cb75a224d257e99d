"""The :class:`Domain` interface: what a structured object is."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch


class Domain(ABC):
    """Describes the objects of one kind: vectors, images, token sequences or graphs.

    A batch of ``n`` objects is one tensor of shape ``(n, *event_shape)``:

    - continuous domains (vectors, images) hold floating-point values inside
      ``bounds`` when the domain has them;
    - discrete domains (token sequences, graphs) hold integer category indices
      in ``[0, num_categories)``: a token id per position, or an edge label per
      entry of an adjacency matrix. Generators of discrete domains may output
      relaxed one-hot tensors of shape ``(n, *event_shape, num_categories)``
      during training; :meth:`harden` turns those into indices.

    Attributes:
        name: registered name of the domain, stored in run directories so a
            trained model can be rebuilt without its data set.
    """

    name: str = "domain"

    @property
    @abstractmethod
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one object, without the batch dimension."""

    @property
    @abstractmethod
    def is_discrete(self) -> bool:
        """True when objects are made of categorical parts (tokens, edges)."""

    @property
    def num_categories(self) -> int:
        """Number of values each part of a discrete object can take."""
        raise NotImplementedError(f"{type(self).__name__} is continuous; it has no categories")

    @property
    def num_sites(self) -> int:
        """Number of parts (sites) of one object: the product of ``event_shape``.

        Discrete searches (``gibbs``, ``beam``) number the parts of an object
        ``0 .. num_sites - 1`` in the row-major order of ``event_shape`` and
        call each part a site.
        """
        return math.prod(self.event_shape)

    def site_values(self, batch: torch.Tensor, site: int) -> torch.Tensor:
        """Return the values that site ``site`` of each row may take, a bool tensor ``(n, num_categories)``.

        A value is allowed when :meth:`set_site` with it returns a valid row.
        Discrete searches rely on two properties of the allowed sets:

        - symmetry: for every row ``y`` that ``set_site`` makes from ``x``
          with an allowed value, the rows reachable from ``y`` at this site
          are the rows reachable from ``x``. The moves at one site thus split
          the valid rows into classes, so a Gibbs update keeps
          ``p(x) ∝ exp(score(x))`` invariant;
        - connectivity: single-site moves lead from every valid row to every
          other valid row.

        The default allows every category at every site, which is right for
        domains where every combination of categories is valid.
        """
        return torch.ones(len(batch), self.num_categories, dtype=torch.bool, device=batch.device)

    def set_site(self, batch: torch.Tensor, site: int, values: torch.Tensor) -> torch.Tensor:
        """Return a copy of ``batch`` with site ``site`` of row ``i`` set to ``values[i]``.

        ``values`` has shape ``(n,)`` and contains values that :meth:`site_values`
        allows. Other values may give invalid rows. Setting a site to its
        current value must return the row unchanged, because searches reuse
        the row's score for that value. Domains with a layout (the
        ``<eos>`` and padding of token sequences) override this to keep that
        layout canonical; the default assigns the value and nothing else.
        """
        flat = batch.reshape(len(batch), -1).clone()
        flat[:, site] = values
        return flat.reshape(batch.shape)

    @property
    def bounds(self) -> tuple[float, float] | None:
        """Closed interval that every value of a continuous object lies in, or None."""
        return None

    @property
    def dtype(self) -> torch.dtype:
        """Tensor dtype of a batch: float32 for continuous domains, int64 for discrete ones."""
        return torch.long if self.is_discrete else torch.float32

    @abstractmethod
    def random_batch(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw ``n`` starting points for a search, shape ``(n, *event_shape)``.

        Continuous domains draw noise that spans the domain; discrete domains
        draw uniform categories. Inference algorithms start their chains here.
        """

    def start_batch(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Return ``n`` starting rows for a search that sets the sites in order, such as ``beam``.

        One pass over the sites in order, from this start, must be able to
        reach every valid row. Domains whose objects vary in size return their
        smallest object (the empty sequence). The default draws
        :meth:`random_batch`, which suits domains where every site takes
        every value.
        """
        return self.random_batch(n, device=device)

    @abstractmethod
    def validate(self, batch: torch.Tensor, source: str = "data") -> None:
        """Raise :class:`~structgen.errors.DataError` unless ``batch`` fits the domain.

        Args:
            batch: candidate batch of shape ``(n, *event_shape)``.
            source: what the batch came from (a file name, say), quoted in
                the error so the user knows what to fix.
        """

    def project(self, batch: torch.Tensor) -> torch.Tensor:
        """Map a search iterate back into the domain (clamp to ``bounds``).

        Continuous search methods call this after each update. The default
        clamps to ``bounds`` when the domain has them and is the identity
        otherwise.
        """
        if self.bounds is None:
            return batch
        low, high = self.bounds
        return batch.clamp(low, high)

    def harden(self, batch: torch.Tensor) -> torch.Tensor:
        """Turn a generator's output into a batch of proper domain objects.

        Continuous domains return the batch unchanged. Discrete domains take
        the argmax over the trailing category axis of relaxed one-hots.
        """
        if self.is_discrete and batch.dim() == len(self.event_shape) + 2:
            return batch.argmax(dim=-1)
        return batch

    @abstractmethod
    def to_user(self, batch: torch.Tensor) -> list[Any]:
        """Convert a batch into user objects (numpy arrays, ``str``, ``networkx.Graph``)."""

    @abstractmethod
    def from_user(self, objects: Sequence[Any]) -> torch.Tensor:
        """Convert user objects into a batch; the inverse of :meth:`to_user`."""

    def draw(self, batch: torch.Tensor, axes: Any, title: str | None = None) -> None:
        """Draw a batch on a matplotlib ``Axes`` for sample pictures."""
        raise NotImplementedError(f"{type(self).__name__} has no picture; save samples with to_user()")

    def spec(self) -> dict[str, Any]:
        """Registered name and parameters that rebuild this domain: ``{"name": ..., **params}``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not describe itself; implement spec() so runs can be reloaded"
        )
