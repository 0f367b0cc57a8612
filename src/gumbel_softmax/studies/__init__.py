"""Studies built on the library: the demo, the estimator bias/variance study, and analyses of trained runs.

An application layer: the library (noise, functional, distributions, estimators, kernels, ...) never imports it.
"""
