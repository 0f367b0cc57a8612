"""The papers' experiments: data, the VAE and SBN models, objectives, the training loop and the reproduction table.

An application built on the library (which never imports it). `gumbel-softmax train vae` / `train sbn`
and `gumbel-softmax reproduce jang2017` are thin wrappers over `gumbel_softmax.experiments.train.train`;
their options are defined once, in `gumbel_softmax.experiments.options`.
"""
