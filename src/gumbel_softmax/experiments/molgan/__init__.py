"""MolGAN (De Cao and Kipf, 2018) on QM9: molecular graphs drawn through the library's gradient estimators.

`chemistry` converts SMILES to padded graphs and back (RDKit), `data` reads and caches QM9,
`metrics` scores generated graphs as MolGAN does, `model` holds the generator, the R-GCN critic and
reward network, and `train` the WGAN-GP loop behind `gumbel-softmax train molgan`. RDKit is
optional (the `molecules` extra); nothing here imports it before a function needs it.
"""
