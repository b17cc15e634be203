"""One trial of the unlabeled job: distill the student of one objective and evaluate it."""

import os
import time

import keras

from tf_robust_distill import data, progress
from tf_robust_distill.data.fingerprint import dataset_fingerprint
from tf_robust_distill.objectives import MultiplierUpdate, class_priors_from_probs, registry
from tf_robust_distill.pipeline import checkpointing, training
from tf_robust_distill.pipeline.evaluation import evaluate
from tf_robust_distill.pipeline.unlabeled.holdout import hold_out, holdout_report
from tf_robust_distill.pipeline.unlabeled.labeled_stage import trial_split
from tf_robust_distill.pipeline.unlabeled.training_set import StudentTrainingSet


def derived_arguments(config, training_set):
    """What an objective may need: the size of the student's training set (its debiasing
    weights), the width of the teacher's "features" layer (VID), the temperature T of
    the student's softmax (t_B, the teacher's too) and the class priors π̂ of a margin
    loss: the marginal of the labels the student trains on (robust distillation §3)."""
    return {
        "class_priors": lambda: class_priors_from_probs(training_set.teacher_probs),
        "temperature": lambda: config.student.temperature,
        "num_train_examples": lambda: training_set.num_examples,
        "teacher_feature_dim": lambda: training_set.teacher_feature_dim,
    }


def state_updates(model, training_set, dro_update_every=None):
    """The callbacks that update the model's state from V: `DebiasingWeightUpdate` for
    debiasing weights, `MultiplierUpdate` on V's true labels for multipliers λ: a λ-step
    every `dro_update_every` optimizer steps (``student.dro_update_every``; None: every
    epoch), robust distillation Algorithm 2."""
    callbacks = []
    if getattr(model, "debiasing_weights", None) is not None:
        callbacks.append(training_set.debiasing_update())
    if getattr(model, "uses_validation_multipliers", False):
        split = training_set.split
        validation = data.evaluation_pipeline(split.validation, training_set.batch_size)
        callbacks.append(MultiplierUpdate(validation, dro_update_every))
    return callbacks


def distill(config, context, stage, training_set):
    """The student of ``config.student.objective``, started from the pre-trained student.

    A model with debiasing weights gets `DebiasingWeightUpdate` (once, or every
    ``config.unlabeled.weights_every_n_epochs`` epochs), a model with multipliers λ a
    `MultiplierUpdate` on V with true labels every ``config.student.dro_update_every`` steps
    (`state_updates`). The test accuracy after every epoch is ``history['val_accuracy']``:
    the test set is Keras's validation data only to record that trajectory; nothing is
    selected with it.

    Returns:
      (model, history): the trained DistillationModel and its Keras history.
    """
    keras.utils.set_random_seed(config.unlabeled.trial)
    model = training.build_model(
        config,
        context,
        registry.UNLABELED_STUDENT,
        config.student,
        train_size=training_set.num_examples,
        derived=derived_arguments(config, training_set),
        checkpoint=stage.student_checkpoint,
    )
    # An unfinished student's checkpoints are kept beside the stage's stored models.
    history = training.fit(
        model,
        config,
        training_set.dataset,
        epochs=config.train.epochs,
        seed=config.unlabeled.trial,
        directory=checkpointing.checkpoint_directory(
            os.path.dirname(stage.teacher_directory),
            "student",
            {
                "config": checkpointing.run_settings(config),
                "data": dataset_fingerprint(training_set.dataset),
            },
        ),
        name=f"student ({config.student.objective})",
        per_example=training_set.per_example(model.required_targets),
        validation_data=data.evaluation_pipeline(context.splits.test, config.eval.batch_size),
        callbacks=state_updates(model, training_set, config.student.dro_update_every),
    )
    return model, history


def run_trial(config, context, stage):
    """One trial of one objective: distill the student and evaluate it on the test set.

    With ``config.unlabeled.holdout_size`` set (a search run), H of that many examples is
    drawn from V and kept out of the training set and of the estimators (`holdout`), and
    the student's report on H is ``result["holdout"]``: what a search scores.

    Returns:
      a JSON-able dict: the student's `evaluation.evaluate` report, its test accuracy
      after every epoch and the best of them (SLaM §4.2's number), the reports of the
      teacher and of the pre-trained student, the teacher's accuracy on U and the size
      of the student's training set; its report on H if there is one.
    """
    started = time.time()
    split, held = trial_split(config, context), None
    if config.unlabeled.holdout_size is not None:
        split, held = hold_out(
            split, context.splits.train, config.unlabeled.holdout_size, config.unlabeled.trial
        )
    training_set = StudentTrainingSet(config, context, split, stage)
    progress.stage(
        "student",
        f"training {config.student.objective} on {training_set.num_examples} examples, "
        f"{config.train.epochs} epochs",
    )
    model, history = distill(config, context, stage, training_set)
    report, _ = evaluate(model.backbone, context, config)
    progress.stage("evaluation", f"student test accuracy {report['test']['accuracy']:.4f}")
    per_epoch = [float(value) for value in history["val_accuracy"]]
    scored = (
        {} if held is None else {"holdout": holdout_report(model.backbone, context, config, held)}
    )
    return {
        **scored,
        "student": report,
        "test_accuracy_per_epoch": per_epoch,
        "best_test_accuracy": max(per_epoch),
        **stage.reports,
        "teacher_accuracy_on_unlabeled": training_set.teacher_accuracy_on_unlabeled(),
        "student_training_size": training_set.num_examples,
        "seconds": time.time() - started,
    }
