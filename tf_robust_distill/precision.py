"""Mixed precision by name: the Keras dtype policy the models of a job are built under.

``config.mixed_precision`` names the policy:

- ``'float32'`` (default): everything in float32.
- ``'mixed_bfloat16'``: for TPUs; layers compute in bfloat16 and keep float32 weights.
- ``'mixed_float16'``: for GPUs; as above in float16, and ``compile`` wraps the optimizer
  in a ``keras.optimizers.LossScaleOptimizer`` (dynamic loss scaling, which
  ``DistillationModel.train_step`` applies through ``optimizer.scale_loss``).

A policy applies to the layers built while it is set. What is numerically delicate
stays float32 whatever the policy: the nets' logits (their ``"logits"`` layer is
float32), every loss (computed on float32 logits), and the objectives' state (DRO
multipliers, class priors, example weights, SoTeacher's buffers, SLaM's α(x)).

A job sets its policy explicitly when it starts (`set_policy`), the float32 default
included, so it never inherits one from code that ran before it in the process, and
gives the caller's policy back when it ends (`keeps_caller_policy`);
`policy` sets one for a block of code and restores the previous one after it.
"""

import contextlib
import functools

import keras

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def check_policy(name):
    """`name` if it is one of `POLICIES`, else a ValueError saying what is allowed."""
    if name not in POLICIES:
        raise ValueError(
            f"mixed_precision must be one of {', '.join(POLICIES)} ('mixed_bfloat16' for "
            f"TPUs, 'mixed_float16' for GPUs, with loss scaling); got {name!r}."
        )
    return name


def set_policy(name):
    """Make `name` the Keras dtype policy of the models built from now on."""
    keras.config.set_dtype_policy(check_policy(name))


def keeps_caller_policy(function):
    """`function`, made to leave the Keras dtype policy as its caller had it, when it
    returns and when it raises: a job sets its own policy while it runs (`set_policy`)."""

    @functools.wraps(function)
    def with_caller_policy(*args, **kwargs):
        previous = keras.config.dtype_policy()
        try:
            return function(*args, **kwargs)
        finally:
            keras.config.set_dtype_policy(previous)

    return with_caller_policy


@contextlib.contextmanager
def policy(name):
    """The Keras dtype policy `name` inside the block, the previous policy after it."""
    check_policy(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
