"""Numerical check of the decomposition theorem of docs/formulation.md.

For each of N generated small instances (mixed sharing structures, common and per-user deadlines,
unit and integer weights, empty or loaded initial GPU, with and without parameter sharing):

* the *joint* problem — bandwidth as decision variables, bilinear upload constraint — is solved by
  SCIP (:func:`partialloading.formulations.joint.solve_joint_scip`) and by enumeration of the
  admitted sets with the convex bandwidth problem solved by cvxpy
  (:func:`~partialloading.formulations.joint.solve_joint_enumeration`);
* the *decomposed* problem (``τ = Σ_S a_k/B``) is solved by ``enumerate`` and, when the module
  exists, by ``milp``.

An instance agrees when all optima are equal within :data:`OBJECTIVE_TOLERANCE`, SCIP proved
optimality, SCIP's bandwidth split equals the closed form ``B·a_k/Σ_S a`` within
:data:`SCIP_BANDWIDTH_TOLERANCE`, and cvxpy's split of every admitted set it was asked about
equals the closed form within :data:`CONVEX_BANDWIDTH_TOLERANCE`.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from partialloading.formulations.joint import solve_joint_enumeration, solve_joint_scip
from partialloading.instance import Instance
from partialloading.scenarios import random_instance
from partialloading.solve import solve
from partialloading.timing import bandwidth_split

OBJECTIVE_TOLERANCE = 1e-6
"""Absolute tolerance on total weights (weights are integers; SCIP's integrality tolerance is 1e-6)."""

CONVEX_BANDWIDTH_TOLERANCE = 1e-5
"""Relative tolerance between cvxpy's split (CLARABEL, default accuracy ~1e-8) and the closed form."""

SCIP_BANDWIDTH_TOLERANCE = 1e-4
"""Relative tolerance between SCIP's split and the closed form. SCIP minimizes ``τ`` only through
a secondary objective term, closed to its default tolerances, so its split is accurate to ~1e-5
(measured); 1e-4 still separates it from any other split (a different set or a
non-proportional split differs by whole percents on the generated instances)."""

SCIP_TIME_LIMIT = 300.0
"""Time limit of SCIP on each instance; an instance it does not prove optimal counts as a failure."""

MILP_TIME_LIMIT = 60.0
"""Time limit of the MILP on each instance (tiny instances solve in well under a second)."""


@dataclass(frozen=True)
class CheckedInstance:
    """One row of the check.

    Attributes
    ----------
    name
        Instance name (generator parameters and seed).
    sharing
        Whether loads reuse shared blocks.
    joint_scip
        Optimum of the joint problem found by SCIP.
    scip_optimal
        Whether SCIP proved optimality.
    joint_enumeration
        Optimum of the joint problem by enumeration with cvxpy bandwidth problems.
    decomposed
        Optimum of the decomposed problem (``enumerate``).
    milp
        Optimum of the decomposed problem by the MILP, or ``None`` when it is not available.
    scip_bandwidth_difference
        ``max_k |b_k − B·a_k/Σ_S a| / (B·a_k/Σ_S a)`` for SCIP's split of its admitted set.
    convex_bandwidth_difference
        The same for cvxpy, maximized over every admitted set the enumeration examined.
    sets_compared
        Number of admitted sets whose convex bandwidth problem was solved.
    """

    name: str
    sharing: bool
    joint_scip: float
    scip_optimal: bool
    joint_enumeration: float
    decomposed: float
    milp: float | None
    scip_bandwidth_difference: float
    convex_bandwidth_difference: float
    sets_compared: int

    @property
    def agrees(self) -> bool:
        """Whether every optimum and every bandwidth split agrees within tolerance."""
        optima = [self.joint_scip, self.joint_enumeration, self.decomposed]
        if self.milp is not None:
            optima.append(self.milp)
        return (
            self.scip_optimal
            and max(optima) - min(optima) <= OBJECTIVE_TOLERANCE
            and self.scip_bandwidth_difference <= SCIP_BANDWIDTH_TOLERANCE
            and self.convex_bandwidth_difference <= CONVEX_BANDWIDTH_TOLERANCE
        )


@dataclass(frozen=True)
class DecompositionReport:
    """All rows of a check.

    Attributes
    ----------
    rows
        One :class:`CheckedInstance` per generated instance.
    seed
        Seed the instances were drawn from.
    """

    rows: tuple[CheckedInstance, ...]
    seed: int

    @property
    def agreeing(self) -> int:
        """Number of instances that agree."""
        return sum(row.agrees for row in self.rows)

    @property
    def ok(self) -> bool:
        """Whether every instance agrees."""
        return self.agreeing == len(self.rows)

    def table(self) -> str:
        """The rows as a fixed-width text table."""
        header = (
            f"{'instance':<34} {'shr':>3} {'joint':>7} {'enum+cvx':>8} {'decomp':>7} {'milp':>7} "
            f"{'bw scip':>9} {'bw cvxpy':>9} {'sets':>4}  agree"
        )
        lines = [header, "-" * len(header)]
        for r in self.rows:
            milp = "-" if r.milp is None else f"{r.milp:g}"
            joint = f"{r.joint_scip:g}" + ("" if r.scip_optimal else "*")
            lines.append(
                f"{r.name:<34.34} {'yes' if r.sharing else 'no':>3} {joint:>7} {r.joint_enumeration:>8g} "
                f"{r.decomposed:>7g} {milp:>7} {r.scip_bandwidth_difference:>9.2e} "
                f"{r.convex_bandwidth_difference:>9.2e} {r.sets_compared:>4}  {'yes' if r.agrees else 'NO'}"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: how many instances agree, and the largest bandwidth differences."""
        scip = max((r.scip_bandwidth_difference for r in self.rows), default=0.0)
        cvx = max((r.convex_bandwidth_difference for r in self.rows), default=0.0)
        sets = sum(r.sets_compared for r in self.rows)
        milp = "with milp" if any(r.milp is not None for r in self.rows) else "milp not available"
        return (
            f"decomposition check (seed {self.seed}): {self.agreeing}/{len(self.rows)} instances agree "
            f"({milp}); max bandwidth difference to the closed form: SCIP {scip:.2e}, "
            f"cvxpy {cvx:.2e} over {sets} fixed sets"
        )


def milp_available() -> bool:
    """Whether the MILP backend module exists."""
    return importlib.util.find_spec("partialloading.solvers.milp") is not None


def generate(n_instances: int, seed: int) -> Iterator[tuple[Instance, bool]]:
    """Draw ``n_instances`` small instances and a sharing flag for each, reproducibly from ``seed``."""
    rng = np.random.default_rng(seed)
    for _ in range(n_instances):
        structure = str(rng.choice(["backbone", "general", "none"]))
        deadlines = str(rng.choice(["common", "per_user"]))
        inst = random_instance(
            int(rng.integers(2**31)),
            n_users=int(rng.integers(3, 6)),
            n_models=int(rng.integers(2, 4)),
            structure=structure,  # type: ignore[arg-type]
            deadlines=deadlines,  # type: ignore[arg-type]
            weighted=bool(rng.random() < 0.5),
            initial_model=bool(rng.random() < 0.5),
        )
        yield inst, bool(rng.random() < 0.75)


def check_instance(instance: Instance, sharing: bool = True, *, use_milp: bool | None = None) -> CheckedInstance:
    """Solve ``instance`` jointly and decomposed and compare (see the module documentation)."""
    loads = instance if sharing else instance.unshared()
    joint = solve_joint_scip(loads, time_limit=SCIP_TIME_LIMIT)
    enumerated, compared = solve_joint_enumeration(loads)
    decomposed = solve(instance, "enumerate", sharing=sharing)
    if use_milp is None:
        use_milp = milp_available()
    milp = solve(instance, "milp", sharing=sharing, time_limit=MILP_TIME_LIMIT).objective if use_milp else None
    if joint.order:
        closed = bandwidth_split(instance, list(joint.order))
        scip_diff = float(np.max(np.abs(np.asarray(joint.bandwidth_hz) - closed) / closed))
    else:
        scip_diff = 0.0
    return CheckedInstance(
        name=instance.name,
        sharing=sharing,
        joint_scip=joint.objective,
        scip_optimal=joint.optimal,
        joint_enumeration=enumerated.objective,
        decomposed=decomposed.objective,
        milp=milp,
        scip_bandwidth_difference=scip_diff if math.isfinite(scip_diff) else math.inf,
        convex_bandwidth_difference=max((c.max_relative_difference for c in compared), default=0.0),
        sets_compared=len(compared),
    )


def check_decomposition(
    n_instances: int,
    seed: int = 0,
    *,
    use_milp: bool | None = None,
    progress: Callable[[Iterator[tuple[Instance, bool]]], Iterator[tuple[Instance, bool]]] | None = None,
) -> DecompositionReport:
    """Run the check on ``n_instances`` generated instances.

    Parameters
    ----------
    n_instances
        Number of instances.
    seed
        Seed of the instance generator.
    use_milp
        Also solve with ``milp`` (default: when the module exists).
    progress
        Wrapper of the instance iterator, e.g. a tqdm progress bar.
    """
    items = generate(n_instances, seed)
    if progress is not None:
        items = progress(items)
    rows = tuple(check_instance(inst, sharing, use_milp=use_milp) for inst, sharing in items)
    return DecompositionReport(rows, seed)
