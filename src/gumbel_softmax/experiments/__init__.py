"""The papers' experiments: data, the VAE and SBN models, objectives, and the training loop.

``gumbel-softmax train vae`` / ``train sbn`` and ``gumbel-softmax bench reproduce``
are thin wrappers over :func:`gumbel_softmax.experiments.train.train`.
"""
