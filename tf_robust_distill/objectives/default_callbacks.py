"""The callbacks `DistillationModel.fit` adds: the model's defaults, and `StateLogger`."""

import keras


def holds(callbacks, callback_type):
    """True if `callbacks` (what `fit` takes: None, a list or a CallbackList) hold a
    callback of `callback_type`."""
    if isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks = callbacks.callbacks
    return any(isinstance(callback, callback_type) for callback in callbacks or [])


def with_default_callbacks(callbacks, defaults, model):
    """`callbacks` with `defaults` put first, but for the types it already holds.

    `callbacks` is what `fit` takes: None, a list (copied), or a
    `keras.callbacks.CallbackList`, into which the missing defaults are inserted and
    given `model` and the list's params (Keras uses a CallbackList as it is handed).
    """
    is_list = isinstance(callbacks, keras.callbacks.CallbackList)
    held = callbacks.callbacks if is_list else list(callbacks or [])
    missing = [default for default in defaults if not holds(held, type(default))]
    held[:0] = missing
    if not is_list:
        return held
    for callback in missing:
        callback.set_model(model)
        if callbacks.params:
            callback.set_params(callbacks.params)
    return callbacks


class StateLogger(keras.callbacks.Callback):
    """Adds a DistillationModel's ``state_logs()`` to the logs at the end of every epoch.

    Keras hands every callback the same epoch-logs dict in list order, and appends
    History (and the progress bar) last, so callbacks after this one (History,
    TensorBoard, CSVLogger, ...) see the state. `DistillationModel.fit` puts it first.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.model.state_logs())
