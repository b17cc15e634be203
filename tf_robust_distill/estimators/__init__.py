"""Estimators on numpy arrays (scikit-learn, no Keras)."""
