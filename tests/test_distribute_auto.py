"""get_strategy('auto'): TPU when reachable, else mirrored over GPUs, else the default."""

import pytest
import tensorflow as tf

from tf_robust_distill import distribute


def test_auto_on_a_cpu_host_is_the_default_strategy():
    assert distribute.reachable_tpu() is None
    assert distribute.get_strategy("auto") is tf.distribute.get_strategy()


def test_auto_mirrors_over_visible_gpus(monkeypatch):
    real = tf.config.list_physical_devices

    def with_a_gpu(kind=None):
        return ["/physical_device:GPU:0"] if kind == "GPU" else real(kind)

    monkeypatch.setattr(tf.config, "list_physical_devices", with_a_gpu)
    assert isinstance(distribute.get_strategy("auto"), tf.distribute.MirroredStrategy)


def test_auto_prefers_a_reachable_tpu(monkeypatch):
    resolver = object()
    monkeypatch.setattr(distribute, "reachable_tpu", lambda tpu: resolver if tpu else None)
    monkeypatch.setattr(distribute, "_tpu_strategy", lambda found: ("tpu", found))
    assert distribute.get_strategy("auto", tpu="grpc://10.0.0.2:8470") == ("tpu", resolver)
    assert distribute.get_strategy("auto") is tf.distribute.get_strategy()


def test_a_named_tpu_address_is_resolved_without_contacting_it():
    assert distribute.reachable_tpu("grpc://10.0.0.2:8470").master() == "grpc://10.0.0.2:8470"


def test_auto_accepts_a_tpu_address_and_other_names_still_refuse_it():
    with pytest.raises(ValueError, match="strategy='tpu'"):
        distribute.get_strategy("default", tpu="local")
    assert "auto" in distribute.STRATEGIES
