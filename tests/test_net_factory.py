"""A net factory of the user's own: ``net = "package.module:function"``."""

import keras
import pytest

from configs import distill as distill_config
from tf_robust_distill import nets
from tf_robust_distill.pipeline import job


def _dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_a_factory_builds_the_net_with_the_registrys_arguments_and_its_options():
    net = nets.get("support.user_nets:build", 3, (4, 2), weight_decay=0.5, hidden=5)
    assert net.name == "build"
    assert tuple(net.output_shape) == (None, 3)
    assert _dense_units(net) == [5, 3]
    kernels = [layer.kernel for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    expected = sum(0.25 * float(keras.ops.sum(kernel**2)) for kernel in kernels)
    assert sum(float(loss) for loss in net.losses) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("no_such_package.nets:build", {}, "cannot import the module 'no_such_package.nets'"),
        ("support.user_nets:missing", {}, "has no function 'missing'"),
        ("support.user_nets:NOT_CALLABLE", {}, "has no function 'NOT_CALLABLE'"),
        ("support.user_nets:no_keywords", {}, r"does not accept that"),
        ("support.user_nets:one_output", {}, r"must return a keras.Model with 3 logits"),
        ("support.user_nets:build", {"depth": 2}, "has no option"),
        (":build", {}, "must be a registered name or 'package.module:function'"),
    ],
)
def test_a_bad_factory_is_named_with_what_is_wrong(name, options, match):
    with pytest.raises(ValueError, match=match):
        nets.get(name, 3, (4,), **options)


def test_the_job_refuses_a_factory_it_cannot_import_before_reading_data():
    config = distill_config.get_config("demo")
    config.student.net = "no_such_package.nets:build"
    with pytest.raises(ValueError, match="^student.net: net 'no_such_package.nets:build'"):
        job.check(config)
    config.student.net = "support.user_nets:build"
    job.check(config)
