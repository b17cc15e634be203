"""Speed and memory of the objectives against plain Keras: ``python -m experiments.benchmark``.

One module per concern, the command line in ``__main__``:

- ``settings``: the shared batch, classes and inputs; how much to measure (QUICK, FULL).
- ``objective_table``: the timed objectives by name.
- ``batches``: the same random in-memory batches for every timed model.
- ``models``: plain Keras and each objective around the same fresh net.
- ``timing``: the two clocks, the step timer, interleaved paired ratios.
- ``step_ratios``: step time over plain Keras, and jit_compile on over off.
- ``multiplier_update``: the robust multiplier update's share of training time.
- ``cached_teacher``: the keras-io Distiller (teacher in every step) over KDModel.
- ``estimator_scaling``: estimator seconds against the number of unlabeled examples.
- ``soteacher_buffer``: bytes of SoTeacher's prediction buffer.
- ``report``: the machine and the markdown of all of it.
"""
