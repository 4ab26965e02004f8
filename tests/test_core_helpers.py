"""The helpers each framework's core shares by name have one contract in both: the same inputs
give the same values (float64, agreement to rounding)."""

import jax.numpy as jnp
import numpy as np
import torch

from backends.jax_backend import core as jax_core
from backends.torch_backend import core as torch_core
from problems import get_problem

RTOL = 1e-10
"""Float64 evaluations of a 87-parameter network in two frameworks (different summation orders)
agree to ~1e-15; 1e-10 leaves room on any CPU. The stencil (weights 1/h², h = 0.1) amplifies
rounding by ~100/|U''| and gets STENCIL_RTOL."""
STENCIL_RTOL = 1e-8


def _inputs():
    problem = get_problem("penalty", points=5)
    params = problem.init_params(0)
    X = problem.grid()
    offsets, weights = np.array([[0.0, -0.1], [0.0, 0.0], [0.0, 0.1]]), np.array([1.0, -2.0, 1.0]) / 0.01
    return problem.network, params, X, offsets, weights


def test_point_batch_network_stencil_and_reverse_outer_agree_across_frameworks():
    spec, params, X, offsets, weights = _inputs()
    jp = {k: jnp.asarray(v) for k, v in params.items()}
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tX, to, tw = (torch.tensor(a) for a in (X, offsets, weights))

    point = [float(jax_core.point_network(spec)(jp, jnp.asarray(x))) for x in X]
    torch_point = [float(torch_core.point_network(spec)(tp, torch.tensor(x)).detach()) for x in X]
    batch = np.asarray(jax_core.batch_network(spec)(jp, jnp.asarray(X)))
    np.testing.assert_allclose(point, batch, rtol=RTOL)
    np.testing.assert_allclose(torch_point, batch, rtol=RTOL)
    np.testing.assert_allclose(torch_core.batch_network(spec)(tp, tX).detach().numpy(), batch, rtol=RTOL)
    np.testing.assert_allclose(
        np.asarray(jax_core.per_point(jax_core.point_network(spec))(jp, jnp.asarray(X))), batch, rtol=RTOL
    )
    np.testing.assert_allclose(
        torch_core.per_point(torch_core.point_network(spec))(tp, tX).detach().numpy(), batch, rtol=RTOL
    )

    jax_stencil = jax_core.stencil(jax_core.batch_network(spec))(jp, jnp.asarray(X), offsets, weights)
    torch_stencil = torch_core.stencil(torch_core.batch_network(spec))(tp, tX, to, tw).detach().numpy()
    per_point = jax_core.per_point(jax_core.stencil_per_point(jax_core.point_network(spec)))
    np.testing.assert_allclose(torch_stencil, np.asarray(jax_stencil), rtol=STENCIL_RTOL)
    np.testing.assert_allclose(np.asarray(per_point(jp, jnp.asarray(X), jnp.broadcast_to(offsets, (5, 3, 2)),
                                                    jnp.broadcast_to(weights, (5, 3)))),
                               np.asarray(jax_stencil), rtol=STENCIL_RTOL)  # fmt: skip

    jax_value, jax_grads = jax_core.reverse_outer(
        lambda p, X: jnp.sum(jax_core.batch_network(spec)(p, X) ** 2)
    )(jp, jnp.asarray(X))
    torch_value, torch_grads = torch_core.reverse_outer(
        lambda p: (torch_core.batch_network(spec)(p, tX) ** 2).sum()
    )(tp)
    np.testing.assert_allclose(float(torch_value), float(jax_value), rtol=RTOL)
    for k in params:
        np.testing.assert_allclose(torch_grads[k].numpy(), np.asarray(jax_grads[k]), rtol=1e-10, atol=1e-14)


def test_stencil_of_every_output_and_several_columns_agrees_across_frameworks_and_spellings():
    """`stencil` of a network's every output (N, d_out) with one weight column per derivative
    (M, T) gives (N, T, d_out) in both cores; each column is the single-column stencil and the
    per-point spelling gives the same values."""
    problem = get_problem("pde", equation="navier-stokes", width=6, depth=2, points=4)
    spec, params, X = problem.network, problem.init_params(0), problem.grid()
    offsets, weights = problem.stencil("float64")
    jp = {k: jnp.asarray(v) for k, v in params.items()}
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    jX, jo, jw = (jnp.asarray(a) for a in (X, offsets, weights))

    jax_all = np.asarray(jax_core.stencil(jax_core.per_point(jax_core.apply_fn(spec)))(jp, jX, jo, jw))
    torch_all = (
        torch_core.stencil(torch_core.apply_fn(spec))(tp, *(torch.tensor(a) for a in (X, offsets, weights)))
        .detach()
        .numpy()
    )
    assert jax_all.shape == (len(X), weights.shape[1], 3)
    # node values agree to a few ulps (RTOL's note), which the weights (up to 1/h² ~ 3e8 here) amplify
    # by Σ|w|: 64 ulps of the largest node value per unit weight bounds the disagreement
    U = np.asarray(jax_core.per_point(jax_core.apply_fn(spec))(jp, jX))
    atol = 64 * np.finfo(np.float64).eps * np.max(np.abs(weights).sum(axis=0)) * np.max(np.abs(U))
    np.testing.assert_allclose(torch_all, jax_all, rtol=0, atol=atol)
    per_point = jax_core.per_point(jax_core.stencil_per_point(jax_core.apply_fn(spec)))
    X_nodes = (jnp.broadcast_to(jo, (len(X), *offsets.shape)), jnp.broadcast_to(jw, (len(X), *weights.shape)))
    np.testing.assert_allclose(np.asarray(per_point(jp, jX, *X_nodes)), jax_all, rtol=0, atol=atol)
    first = np.asarray(jax_core.stencil(jax_core.batch_network(spec))(jp, jX, jo, jw[:, 1]))
    np.testing.assert_allclose(first, jax_all[:, 1, 0], rtol=0, atol=atol)
