"""CTMCSpace: token sequences under a mixture probability path (discrete flow matching).

It is the discrete case of the :class:`manifold_fm.spaces.base.Space`
contract, so the same trainer loop and :func:`manifold_fm.solvers.sample` drive token
sequences. The math (FM time, data at t = 1):

* source p0: mask source -- every token is the mask id M = V; uniform source -- i.i.d.
  uniform over the V tokens;
* path: x_t^i = x1^i with probability kappa_t, else x0^i, independently per position;
* model output: logits over x1 per position, shape (n, L, V);
* rate: u_t(y | x_t) = w_t (p(x1^i = y | x_t) - delta_{x_t^i}(y)), w_t = kappa'_t / (1 - kappa_t);
* loss "ce": sum over real positions of -log p(x1^i | x_t) (mask source: masked positions
  only, since unmasked ones are carried over exactly -- SUBS). At mask ratio r = 1 - t
  (linear schedule) E[ce] = E_r[r D m(r)], m(r) the mean CE per masked token, while the
  NELBO is E_r[D m(r)]: ce weights each r by r. Same minimiser (the true conditionals),
  but the ce value is below the NELBO and bounds nothing; use :func:`discrete_fm.elbo`;
  loss "elbo": the generalized-KL (Shaul et al. 2024) per position
  w_t [delta_{x1}(x_t) - p(x_t | x_t) - (1 - delta_{x1}(x_t)) log p(x1 | x_t)] >= 0,
  whose time integral is the negative ELBO (see :mod:`discrete_fm.elbo`).

Points are long tensors (n, L); padding masks (n, L) (True = real token) keep padded
positions fixed and loss-free.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import torch
from torch import Tensor

from discrete_fm.rates import generalized_kl, guide_log_probs, posterior_log_probs
from discrete_fm.sampling import JUMP_KINDS, ctmc_step
from manifold_fm.schedules import KappaSchedule, as_kappa_schedule
from manifold_fm.spaces.base import PathSample, Space

__all__ = ["CTMCSpace"]

_SOURCES = ("mask", "uniform")
_LOSSES = ("ce", "elbo")


class CTMCSpace(Space):
    """Sequences of ``length`` tokens from a vocabulary of ``vocab_size``.

    Args:
        vocab_size: V, the number of data tokens (ids 0..V-1).
        length: L, positions per sequence.
        source: ``"mask"`` (p0 = all mask id V; the model's input vocabulary is V + 1) or
            ``"uniform"`` (p0 = uniform over V).
        schedule: kappa(t) (a :class:`KappaSchedule` or name, default linear).
        loss: ``"ce"`` (unweighted cross-entropy: fastest at small batch; not a NELBO,
            see above) or ``"elbo"`` (generalized KL: E_t of it is the NELBO, heavy-tailed).
        reduction: ``"sum"`` over real positions (default) or ``"mean"`` per real position.
        step_method: the jump :meth:`step` makes, ``"euler"`` (tau-leaping) or
            ``"ancestral"`` (see :mod:`discrete_fm.sampling`).
        temperature, top_p: sampling distortions, OFF by default (1.0); both lower sample
            entropy and break the model's distribution (never for benchmarks).
        sampling_dtype: dtype of categorical draws (float64; float32 loses the tail).
    """

    integer_points = True
    mask_ndim = 1

    def __init__(
        self,
        vocab_size: int,
        length: int,
        source: str = "mask",
        schedule: KappaSchedule | str | None = None,
        *,
        loss: str = "ce",
        reduction: str = "sum",
        step_method: str = "euler",
        temperature: float = 1.0,
        top_p: float = 1.0,
        sampling_dtype: torch.dtype = torch.float64,
    ) -> None:
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"CTMCSpace: vocab_size must be an int >= 2, got {vocab_size!r}")
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"CTMCSpace: length must be a positive int, got {length!r}")
        for name, value, allowed in (
            ("source", source, _SOURCES),
            ("loss", loss, _LOSSES),
            ("reduction", reduction, ("sum", "mean")),
            ("step_method", step_method, JUMP_KINDS),
        ):
            if value not in allowed:
                raise ValueError(f"CTMCSpace: {name} must be one of {allowed}, got {value!r}")
        if not temperature > 0:
            raise ValueError(f"CTMCSpace: temperature must be > 0, got {temperature!r}")
        if not 0 < top_p <= 1:
            raise ValueError(f"CTMCSpace: top_p must be in (0, 1], got {top_p!r}")
        if sampling_dtype not in (torch.float32, torch.float64):
            raise TypeError(f"CTMCSpace: sampling_dtype must be float32/64, got {sampling_dtype}")
        self.vocab_size, self.length, self.source = vocab_size, length, source
        self.schedule = as_kappa_schedule(schedule)
        self.loss_kind, self.reduction, self.step_method = loss, reduction, step_method
        self.temperature, self.top_p, self.sampling_dtype = temperature, top_p, sampling_dtype
        self.event_shape = torch.Size((length,))

    # -- shapes and ids ---------------------------------------------------------------
    @property
    def output_shape(self) -> torch.Size:
        """Logits over x1 per position: (L, V)."""
        return torch.Size((self.length, self.vocab_size))

    @property
    def mask_id(self) -> int | None:
        """The mask token id (V) for the mask source, None for the uniform source."""
        return self.vocab_size if self.source == "mask" else None

    @property
    def input_vocab_size(self) -> int:
        """Number of distinct ids a model may see in x_t: V + 1 (mask source) or V."""
        return self.vocab_size + (self.source == "mask")

    def __repr__(self) -> str:
        return (
            f"CTMCSpace(vocab_size={self.vocab_size}, length={self.length}, "
            f"source={self.source!r}, schedule={self.schedule!r})"
        )

    # -- validation -------------------------------------------------------------------
    def validate(self, x: Tensor, *, allow_mask: bool = False) -> None:
        """Check that ``x`` is a long tensor (n, L) of ids in [0, V) (or the mask id).

        Raises ValueError naming the first bad row, position and value.
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"CTMCSpace: points must be a torch.Tensor, got {type(x).__name__}")
        if x.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
            raise ValueError(f"CTMCSpace: points must be integer token ids, got dtype {x.dtype}")
        if x.dim() != 2 or x.shape[-1] != self.length:
            raise ValueError(
                f"CTMCSpace: points must have shape (n, {self.length}), got {tuple(x.shape)}"
            )
        hi = self.vocab_size + (1 if allow_mask and self.mask_id is not None else 0)
        bad = (x < 0) | (x >= hi)
        if bool(bad.any()):
            i, j = (int(v) for v in bad.nonzero()[0])
            raise ValueError(
                f"CTMCSpace: row {i}, position {j} holds id {int(x[i, j])}, outside [0, {hi}) "
                f"({int(bad.any(-1).sum())} of {x.shape[0]} rows are bad)"
            )

    def validate_state(self, x: Tensor) -> None:
        """:meth:`validate` that also admits the mask id (a sampler state on the path)."""
        self.validate(x, allow_mask=True)

    def _check_points(self, x: Tensor, what: str) -> None:
        if x.dtype != torch.long or x.dim() != 2 or x.shape[-1] != self.length:
            raise ValueError(
                f"CTMCSpace: {what} must be a long tensor of shape (n, {self.length}), got "
                f"dtype {x.dtype} shape {tuple(x.shape)}"
            )

    def _times(self, t: Tensor | float, n: int, device: torch.device) -> Tensor:
        t = torch.as_tensor(t, device=device)
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        try:
            return t.expand(n) if t.shape != (n,) else t
        except RuntimeError as err:
            raise ValueError(f"CTMCSpace: times {tuple(t.shape)} do not fit n={n}") from err

    # -- source -----------------------------------------------------------------------
    def sample_prior(self, n, *, generator=None, device=None, dtype=None, mask=None) -> Tensor:
        """Draw ``n`` source sequences, long (n, L). ``dtype`` is ignored (tokens are ids).

        ``mask`` (n, L) is checked and changes nothing: positions are independent, so the
        draw at the real ones is their prior whatever the padding holds (the sampler keeps
        padded positions fixed, :meth:`log_prior` does not score them).
        """
        self.check_prior_mask(n, mask)
        if self.source == "mask":
            return torch.full((n, self.length), self.vocab_size, dtype=torch.long, device=device)
        return torch.randint(
            0, self.vocab_size, (n, self.length), generator=generator, device=device
        )

    def log_prior(self, x: Tensor, *, mask: Tensor | None = None) -> Tensor:
        """log p0(x), shape (n,), over the real positions (``mask`` (n, L), default all).

        Mask source: 0 if every real position holds the mask id, else -inf. Uniform source:
        -n_real log V if every real position holds an id in [0, V), else -inf.
        """
        dt = torch.get_default_dtype()
        real = self.check_mask(x, mask)
        pad = torch.zeros_like(x, dtype=torch.bool) if real is None else ~real
        if self.source == "mask":
            ok = ((x == self.vocab_size) | pad).all(-1)
            return torch.where(ok, 0.0, float("-inf")).to(dt)
        ok = ((x >= 0) & (x < self.vocab_size) | pad).all(-1)
        n_real = (~pad).sum(-1).to(dt)
        return torch.where(ok, -n_real * math.log(self.vocab_size), float("-inf")).to(dt)

    def path(
        self,
        x0: Tensor,
        x1: Tensor,
        t: Tensor,
        *,
        generator: torch.Generator | None = None,
        mask: Tensor | None = None,
    ) -> PathSample:
        """Mixture path: x_t^i = x1^i w.p. kappa_t else x0^i; padded positions keep x1.

        Shapes: x0, x1 long (n, L); t (n,) or scalar; mask (n, L) bool or None.
        """
        self._check_points(x1, "x1")
        self._check_points(x0, "x0")
        mask = self.check_mask(x1, mask)
        n = x1.shape[0]
        t = self._times(t, n, x1.device)
        kappa, _ = self.schedule(t)
        u = torch.rand(x1.shape, generator=generator, device=x1.device, dtype=kappa.dtype)
        keep = u < kappa.unsqueeze(-1)
        if mask is not None:
            keep = keep | ~mask
        x_t = torch.where(keep, x1, x0)
        return PathSample(x_t=x_t, target=x1, t=t, x0=x0, x1=x1, mask=mask)

    def _check_logits(self, output: Tensor, x1: Tensor) -> None:
        want = (*x1.shape, self.vocab_size)
        if tuple(output.shape) != want:
            raise ValueError(f"CTMCSpace: logits must have shape {want}, got {tuple(output.shape)}")

    def generalized_kl(self, output: Tensor, sample: PathSample) -> Tensor:
        """Per-position generalized KL between the true and model rates, shape (n, L).

        See :func:`discrete_fm.rates.generalized_kl` (float64, padded positions 0).
        """
        self._check_logits(output, sample.x1)
        return generalized_kl(output, sample, self.schedule, self.mask_id, self.vocab_size)

    def loss(self, output: Tensor, sample: PathSample) -> Tensor:
        """Per-sequence loss, shape (n,): ``"ce"`` or ``"elbo"`` (see the module docstring)."""
        x_t, x1 = sample.x_t, sample.x1
        real = sample.mask if sample.mask is not None else torch.ones_like(x1, dtype=torch.bool)
        if self.loss_kind == "ce":
            self._check_logits(output, x1)
            lp = posterior_log_probs(output, x_t, self.mask_id)
            nll = -lp.gather(-1, x1.unsqueeze(-1)).squeeze(-1)
            counted = real & (x_t == self.vocab_size) if self.mask_id is not None else real
            per_pos = torch.where(counted, nll, 0.0)
        else:
            per_pos = self.generalized_kl(output, sample).to(output.dtype)
        total = per_pos.sum(-1)
        if self.reduction == "mean":
            total = total / real.sum(-1).clamp_min(1)
        return total

    @property
    def loss_label(self) -> str:
        """What :meth:`loss` measures, for logs and result files (a ce value is no NELBO)."""
        per = "real token" if self.reduction == "mean" else "sequence"
        if self.loss_kind == "ce":
            return f"ce loss (not a NELBO), nats per {per}"
        return f"generalized KL at one t (one-sample NELBO estimate), nats per {per}"

    def x1_estimate(self, x_t: Tensor, output: Tensor, t: Tensor | float) -> Tensor:
        """The posterior p(x1^i = y | x_t) the logits imply, float32 (n, L, V) (SUBS for
        the mask source): what self-conditioning feeds back."""
        self._check_logits(output, x_t)
        return posterior_log_probs(output.float(), x_t.long(), self.mask_id).exp()

    # -- sampling ---------------------------------------------------------------------
    def step(
        self,
        x: Tensor,
        output: Tensor,
        t: Tensor | float,
        dt: Tensor | float,
        *,
        mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One jump of kind ``step_method`` from t to t + dt driven by logits (n, L, V).

        Math of both kinds: :mod:`discrete_fm.sampling`; padded positions never change.
        """
        return ctmc_step(self, x, output, t, dt, self.step_method, mask=mask, generator=generator)

    def ancestral_step(
        self,
        x: Tensor,
        output: Tensor,
        t: Tensor | float,
        dt: Tensor | float,
        *,
        mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """:meth:`step` with the ancestral jump whatever the space's ``step_method``."""
        return ctmc_step(self, x, output, t, dt, "ancestral", mask=mask, generator=generator)

    #: ``sample(..., method="ancestral")`` uses the exact-in-time ancestral jump
    sampling_steps = MappingProxyType({"ancestral": ancestral_step})

    #: classifier-free guidance in log-probability space (:func:`discrete_fm.rates.guide_log_probs`)
    guide = staticmethod(guide_log_probs)
